package crypt

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/convert"
)

const encryptName = "encrypt.apply"

const keyDoc = `The key is read once, when the stage is built, from the environment variable named by
key_env: hex, or base64 (standard or URL alphabet, padded or not). It must be 16 bytes
for aes-128-gcm and 32 bytes for aes-256-gcm and chacha20-poly1305 (e.g. the output of
"openssl rand -base64 32"). A missing variable or a key of the wrong size is an error
naming key_env and the expected size; the key itself is never printed.`

// EncryptSpec returns encrypt.apply's spec (a new value on each call).
func EncryptSpec() *flow.Spec {
	return &flow.Spec{
		Name:    encryptName,
		Kind:    flow.KindTransform,
		Tags:    []string{"security"},
		Summary: "Encrypt columns with an authenticated cipher (AES-GCM, ChaCha20-Poly1305).",
		Description: `Each value of the listed columns is replaced by the standard base64 (with padding) of
nonce || ciphertext || tag: a 12-byte nonce, the ciphertext (as long as the plaintext)
and a 16-byte authentication tag, so a value of n bytes becomes 4*ceil((n+28)/3)
characters. No associated data is bound: a value decrypts under the same key in any
column or row. decrypt.apply with the same algorithm and key gives the text back.

Every value gets a fresh random nonce from the operating system's CSPRNG (crypto/rand,
read once per batch for all its values), so equal plaintexts give different outputs.
With random 96-bit nonces, NIST SP 800-38D bounds a key's use to 2^32 values: rotate
keys before encrypting about four billion values with one key.

The encrypted columns become string columns, in place. A string column is encrypted as
its UTF-8 bytes; any other column as its text form (as cast.apply renders it to string:
integers in base 10, floats in shortest form, timestamps in RFC 3339 UTC, dates as
2006-01-02), so decrypt.apply gives strings back unless its types parameter converts
them. Nulls stay null (a null is not encrypted). The other columns are shared with the
input.

` + keyDoc,
		Params: []flow.Param{
			{Name: "columns", Type: flow.TypeStringOrList, Required: true, Doc: "Column or columns to encrypt."},
			{Name: "algorithm", Type: flow.TypeString, Default: AES256GCM, Allowed: algorithmNames, Doc: "aes-128-gcm, aes-256-gcm or chacha20-poly1305."},
			{Name: "key_env", Type: flow.TypeString, Required: true, Doc: "Environment variable holding the key (hex or base64)."},
		},
		New:    newEncrypt,
		Schema: encryptSchema,
		// Encryption is randomized, so the examples round-trip through
		// decrypt.apply in the package's tests instead.
		Examples: []flow.Example{
			{
				Title:  "Nothing to encrypt: nulls stay null",
				Config: "columns = \"ssn\"\nkey_env = \"CONVEYOR_EXAMPLE_KEY\"\n",
				Input:  "{\"id\":1,\"ssn\":null}\n",
				Output: "{\"id\":1,\"ssn\":null}\n",
			},
			{
				Title:  "Several columns with ChaCha20-Poly1305: nulls stay null",
				Config: "columns = [\"email\", \"phone\"]\nalgorithm = \"chacha20-poly1305\"\nkey_env = \"CONVEYOR_EXAMPLE_KEY\"\n",
				Input:  "{\"email\":null,\"phone\":null}\n",
				Output: "{\"email\":null,\"phone\":null}\n",
			},
		},
	}
}

// plan is an encrypt/decrypt stage bound to one input schema.
type plan struct {
	schema    *arrow.Schema
	outSchema *arrow.Schema
	idx       []int
	kernels   []convert.CastFunc // per column: to text (encrypt) or from text (decrypt); nil: none
}

func bindEncrypt(columns []string, schema *arrow.Schema) (*plan, error) {
	p := &plan{schema: schema}
	fields := append([]arrow.Field(nil), schema.Fields()...)
	for _, col := range columns {
		idx, err := columnIndex(encryptName, schema, col)
		if err != nil {
			return nil, &flow.ParamError{Key: "columns", Err: err}
		}
		var k convert.CastFunc
		if id := schema.Field(idx).Type.ID(); id != arrow.STRING {
			if k, err = convert.CastKernel(schema.Field(idx).Type, arrow.BinaryTypes.String); err != nil {
				return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("%s: column %q: %w", encryptName, col, err)}
			}
		}
		p.idx = append(p.idx, idx)
		p.kernels = append(p.kernels, k)
		fields[idx] = arrow.Field{Name: col, Type: arrow.BinaryTypes.String, Nullable: fields[idx].Nullable}
	}
	meta := schema.Metadata()
	p.outSchema = arrow.NewSchema(fields, &meta)
	return p, nil
}

func encryptSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) != 1 || inputs[0] == nil {
		return nil, nil
	}
	p, err := bindEncrypt(cfg.Strings("columns"), inputs[0])
	if err != nil {
		return nil, err
	}
	return p.outSchema, nil
}

type encryptOp struct {
	columns []string
	aead    cipher.AEAD
	plan    *plan
	nonces  []byte
	sealed  []byte
}

func newEncrypt(cfg flow.Config, env flow.BuildEnv) (any, error) {
	alg := cfg.Str("algorithm")
	key, err := LoadKey(encryptName, cfg.Str("key_env"), alg)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(alg, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", encryptName, err)
	}
	return &encryptOp{columns: cfg.Strings("columns"), aead: aead}, nil
}

// Transform encrypts the configured columns of in (borrowed).
func (e *encryptOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if e.plan == nil || (e.plan.schema != in.Schema() && !e.plan.schema.Equal(in.Schema())) {
		p, err := bindEncrypt(e.columns, in.Schema())
		if err != nil {
			return nil, err
		}
		e.plan = p
	}
	if in.NumRows() == 0 {
		return nil, nil
	}
	cols := append([]arrow.Array(nil), in.Columns()...)
	var owned []arrow.Array
	defer func() {
		for _, a := range owned {
			a.Release()
		}
	}()
	for k, idx := range e.plan.idx {
		src := in.Column(idx)
		if kern := e.plan.kernels[k]; kern != nil {
			txt, _ := kern(st.Alloc, src)
			owned = append(owned, txt)
			src = txt
		}
		out, err := e.encryptColumn(st.Alloc, src.(*array.String))
		if err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", encryptName, e.columns[k], err)
		}
		owned = append(owned, out)
		cols[idx] = out
	}
	return array.NewRecordBatch(e.plan.outSchema, cols, in.NumRows()), nil
}

// encryptColumn returns the base64 of nonce||ciphertext||tag for every
// non-null value of src, writing straight into the result's buffers.
func (e *encryptOp) encryptColumn(mem memory.Allocator, src *array.String) (arrow.Array, error) {
	n := src.Len()
	ns, over := e.aead.NonceSize(), e.aead.Overhead()
	offs := src.ValueOffsets()
	hasNulls := src.NullN() > 0
	valid := n - src.NullN()
	total := 0
	for i := 0; i < n; i++ {
		if hasNulls && src.IsNull(i) {
			continue
		}
		total += base64.StdEncoding.EncodedLen(ns + int(offs[i+1]-offs[i]) + over)
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("batch too large: %d bytes of ciphertext (split it into smaller batches)", total)
	}
	if cap(e.nonces) < valid*ns {
		e.nonces = make([]byte, valid*ns)
	}
	nonces := e.nonces[:valid*ns]
	if _, err := rand.Read(nonces); err != nil {
		return nil, fmt.Errorf("reading random nonces: %w", err)
	}
	offBuf := memory.NewResizableBuffer(mem)
	offBuf.Resize((n + 1) * 4)
	dataBuf := memory.NewResizableBuffer(mem)
	dataBuf.Resize(total)
	outOffs := arrow.Int32Traits.CastFromBytes(offBuf.Bytes())[:n+1]
	data := dataBuf.Bytes()
	var validBuf *memory.Buffer
	if hasNulls {
		validBuf = memory.NewResizableBuffer(mem)
		validBuf.Resize(int(bitutil.BytesForBits(int64(n))))
		bitutil.CopyBitmap(src.NullBitmapBytes(), src.Data().Offset(), n, validBuf.Bytes(), 0)
	}
	values := src.ValueBytes()
	base := offs[0]
	pos, k := 0, 0
	for i := 0; i < n; i++ {
		outOffs[i] = int32(pos)
		if hasNulls && src.IsNull(i) {
			continue
		}
		nonce := nonces[k*ns : (k+1)*ns]
		k++
		pt := values[offs[i]-base : offs[i+1]-base]
		sealed := append(e.sealed[:0], nonce...)
		sealed = e.aead.Seal(sealed, nonce, pt, nil)
		e.sealed = sealed
		m := base64.StdEncoding.EncodedLen(len(sealed))
		base64.StdEncoding.Encode(data[pos:pos+m], sealed)
		pos += m
	}
	outOffs[n] = int32(pos)
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{validBuf, offBuf, dataBuf}, nil, src.NullN(), 0)
	arr := array.MakeFromData(d)
	d.Release()
	offBuf.Release()
	dataBuf.Release()
	if validBuf != nil {
		validBuf.Release()
	}
	return arr, nil
}
