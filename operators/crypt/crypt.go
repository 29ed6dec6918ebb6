// Package crypt provides encrypt.apply and decrypt.apply: authenticated
// encryption of column values (AES-GCM or ChaCha20-Poly1305) with a key
// taken from an environment variable.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

// Sentinel errors. Errors of this package wrap one of them; test with
// errors.Is.
var (
	// ErrKey: the key is missing or does not fit the algorithm.
	ErrKey = errors.New("bad encryption key")
	// ErrDecrypt: a value could not be decrypted (not base64, too short,
	// or the authentication tag does not match: wrong key or altered data).
	ErrDecrypt = errors.New("cannot decrypt")
)

// ExampleKeyEnv is the environment variable the specs' examples take their
// key from, and ExampleKey the key they expect in it (32 zero bytes,
// base64): a test running the examples must set it, e.g.
// t.Setenv(crypt.ExampleKeyEnv, crypt.ExampleKey).
const (
	ExampleKeyEnv = "CONVEYOR_EXAMPLE_KEY"
	ExampleKey    = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)

// Register adds encrypt.apply and decrypt.apply to r.
func Register(r *flow.Registry) {
	r.Register(EncryptSpec())
	r.Register(DecryptSpec())
}

// Algorithms.
const (
	AES128GCM        = "aes-128-gcm"
	AES256GCM        = "aes-256-gcm"
	ChaCha20Poly1305 = "chacha20-poly1305"
)

var algorithmNames = []string{AES128GCM, AES256GCM, ChaCha20Poly1305}

// keyLen is the key size in bytes of each algorithm.
func keyLen(alg string) int {
	if alg == AES128GCM {
		return 16
	}
	return 32
}

func newAEAD(alg string, key []byte) (cipher.AEAD, error) {
	switch alg {
	case AES128GCM, AES256GCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	case ChaCha20Poly1305:
		return chacha20poly1305.New(key)
	}
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

// LoadKey reads the key of alg from the environment variable keyEnv:
// hex, or base64 in the standard or URL alphabet, padded or not. The
// decoded key must have the algorithm's size (16 bytes for aes-128-gcm, 32
// for the others). Errors wrap ErrKey, name the variable and never include
// the key.
func LoadKey(stage, keyEnv, alg string) ([]byte, error) {
	want := keyLen(alg)
	text, ok := os.LookupEnv(keyEnv)
	if !ok || strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%s: key_env: %w: environment variable %q is not set (it must hold a %d-byte key for %s, hex or base64 encoded)",
			stage, ErrKey, keyEnv, want, alg)
	}
	text = strings.TrimSpace(text)
	decoders := []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString,
		base64.URLEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString,
		base64.RawURLEncoding.DecodeString,
	}
	got := -1
	for _, dec := range decoders {
		if k, err := dec(text); err == nil {
			if len(k) == want {
				return k, nil
			}
			got = len(k)
		}
	}
	detail := "it is neither hex nor base64"
	if got >= 0 {
		detail = fmt.Sprintf("it decodes to %d bytes", got)
	}
	return nil, fmt.Errorf("%s: key_env: %w: the key in %q must be %d bytes for %s (hex: %d characters, base64: %d); %s",
		stage, ErrKey, keyEnv, want, alg, 2*want, base64.StdEncoding.EncodedLen(want), detail)
}

func columnIndex(stage string, schema *arrow.Schema, name string) (int, error) {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0], nil
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return -1, &operators.UnknownColumnError{Stage: stage, Column: name, Suggestion: flow.Nearest(name, names), Available: names}
}

// joinedError is several reasons for one row, rendered "a; b".
type joinedError []error

func (e joinedError) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e joinedError) Unwrap() []error { return e }
