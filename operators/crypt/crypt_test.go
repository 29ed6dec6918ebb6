package crypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators"
)

const exampleKey = ExampleKey

func TestExamples(t *testing.T) {
	t.Setenv(ExampleKeyEnv, ExampleKey)
	spectest.RunAll(t, EncryptSpec())
	spectest.RunAll(t, DecryptSpec())
}

func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func build(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows []map[string]any) arrow.RecordBatch {
	t.Helper()
	b, err := batch.FromRows(mem, schema, rows)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run(spec *flow.Spec, mem memory.Allocator, cfg map[string]any, strategy flow.Strategy, in ...arrow.RecordBatch) (*flow.IsolatedResult, error) {
	return flow.RunIsolated(context.Background(), spec, cfg, flow.BuildEnv{Alloc: mem}, strategy, in)
}

func rowsOf(bs []arrow.RecordBatch) []map[string]any {
	var out []map[string]any
	for _, b := range bs {
		out = append(out, batch.Rows(b)...)
	}
	return out
}

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func randomRows(rng *rand.Rand, n int) []map[string]any {
	texts := []string{"", "a", "hello world", "é ü ß 日本語 🙂", strings.Repeat("x", 1000), "line\nbreak\x00nul"}
	rows := make([]map[string]any, n)
	for i := range rows {
		r := map[string]any{"id": int64(i)}
		if rng.IntN(6) > 0 {
			r["s"] = texts[rng.IntN(len(texts))]
		}
		if rng.IntN(6) > 0 {
			r["n"] = rng.Int64N(1<<40) - 1<<39
		}
		rows[i] = r
	}
	return rows
}

func keyFor(alg string, seed byte) []byte {
	k := make([]byte, keyLen(alg))
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// refOpen decrypts one value with the standard library directly: the
// independent reference for the format nonce||ciphertext||tag in base64.
func refOpen(t *testing.T, alg string, key []byte, text string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		t.Fatalf("output is not base64: %v", err)
	}
	var aead cipher.AEAD
	if alg == ChaCha20Poly1305 {
		aead, _ = chacha20poly1305.New(key)
	} else {
		b, _ := aes.NewCipher(key)
		aead, _ = cipher.NewGCM(b)
	}
	pt, err := aead.Open(nil, raw[:12], raw[12:], nil)
	if err != nil {
		t.Fatalf("reference cannot open: %v", err)
	}
	return string(pt)
}

func splitBatches(t *testing.T, mem memory.Allocator, rows []map[string]any, sizes ...int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for k, i := 0, 0; i < len(rows); k++ {
		end := min(i+sizes[k%len(sizes)], len(rows))
		out = append(out, build(t, mem, schema, rows[i:end]))
		i = end
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range algorithmNames {
		for ei, enc := range []func([]byte) string{
			hex.EncodeToString, base64.StdEncoding.EncodeToString, base64.RawURLEncoding.EncodeToString,
		} {
			t.Run(fmt.Sprintf("%s/key%d", alg, ei), func(t *testing.T) {
				mem := newMem(t)
				key := keyFor(alg, byte(ei))
				t.Setenv("TEST_KEY", enc(key))
				rows := randomRows(rand.New(rand.NewPCG(1, uint64(ei))), 300)
				in := splitBatches(t, mem, rows, 100, 1, 37, 0, 150)
				in = append(in, build(t, mem, schema, nil))
				cfg := map[string]any{"columns": []any{"s", "n"}, "algorithm": alg, "key_env": "TEST_KEY"}
				res, err := run(EncryptSpec(), mem, cfg, "", in...)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				enc := rowsOf(res.Output)
				if len(enc) != len(rows) {
					t.Fatalf("%d rows, want %d", len(enc), len(rows))
				}
				for i, r := range rows {
					for _, col := range []string{"s", "n"} {
						if r[col] == nil {
							if enc[i][col] != nil {
								t.Fatalf("null encrypted")
							}
							continue
						}
						want := fmt.Sprint(r[col])
						if got := refOpen(t, alg, key, enc[i][col].(string)); got != want {
							t.Fatalf("row %d %s: decrypts to %q, want %q", i, col, got, want)
						}
					}
				}
				for _, b := range res.Output {
					if b.Schema().Field(2).Type.ID() != arrow.STRING {
						t.Fatal("n not a string column")
					}
				}
				// Decrypt with the stage, back to the original types.
				var encIn []arrow.RecordBatch
				for _, b := range res.Output {
					b.Retain()
					encIn = append(encIn, b)
				}
				dcfg := map[string]any{"columns": []any{"s", "n"}, "algorithm": alg, "key_env": "TEST_KEY", "types": map[string]any{"n": "int"}}
				res2, err := run(DecryptSpec(), mem, dcfg, "", encIn...)
				if err != nil {
					t.Fatal(err)
				}
				defer res2.Release()
				dec := rowsOf(res2.Output)
				for i, r := range rows {
					for _, col := range []string{"id", "s", "n"} {
						if fmt.Sprint(dec[i][col]) != fmt.Sprint(r[col]) {
							t.Fatalf("row %d %s: %v, want %v", i, col, dec[i][col], r[col])
						}
					}
				}
			})
		}
	}
}

func TestNonceUniqueness(t *testing.T) {
	mem := newMem(t)
	t.Setenv("TEST_KEY", exampleKey)
	rows := make([]map[string]any, 5000)
	for i := range rows {
		rows[i] = map[string]any{"id": int64(i), "s": "same plaintext"}
	}
	res, err := run(EncryptSpec(), mem, map[string]any{"columns": "s", "key_env": "TEST_KEY"}, "", splitBatches(t, mem, rows, 1000, 1, 999)...)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	seen := map[string]bool{}
	for _, r := range rowsOf(res.Output) {
		raw, _ := base64.StdEncoding.DecodeString(r["s"].(string))
		nonce := string(raw[:12])
		if seen[nonce] {
			t.Fatalf("nonce repeated after %d values", len(seen))
		}
		seen[nonce] = true
	}
	if len(seen) != len(rows) {
		t.Fatalf("%d nonces", len(seen))
	}
}

func encryptOne(t *testing.T, mem memory.Allocator, alg, keyEnv string, values ...string) []string {
	var rows []map[string]any
	for i, v := range values {
		rows = append(rows, map[string]any{"id": int64(i), "s": v})
	}
	res, err := run(EncryptSpec(), mem, map[string]any{"columns": "s", "algorithm": alg, "key_env": keyEnv}, "", build(t, mem, schema, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	var out []string
	for _, r := range rowsOf(res.Output) {
		out = append(out, r["s"].(string))
	}
	return out
}

func TestWrongKeyAndTampering(t *testing.T) {
	for _, alg := range algorithmNames {
		t.Run(alg, func(t *testing.T) {
			mem := newMem(t)
			t.Setenv("KEY_A", hex.EncodeToString(keyFor(alg, 1)))
			t.Setenv("KEY_B", hex.EncodeToString(keyFor(alg, 2)))
			cts := encryptOne(t, mem, alg, "KEY_A", "secret one", "secret two", "secret three", "four")
			raw, _ := base64.StdEncoding.DecodeString(cts[1])
			raw[len(raw)/2] ^= 1 // flip a ciphertext or tag bit
			cts[1] = base64.StdEncoding.EncodeToString(raw)
			cts[2] = "not base64!"
			cts[3] = base64.StdEncoding.EncodeToString([]byte("short"))
			var rows []map[string]any
			for i, c := range cts {
				rows = append(rows, map[string]any{"id": int64(i), "s": c})
			}
			rows = append(rows, map[string]any{"id": int64(9), "s": nil})
			// Right key: the tampered, non-base64 and short values are rejected.
			res, err := run(DecryptSpec(), mem, map[string]any{"columns": "s", "algorithm": alg, "key_env": "KEY_A"}, flow.StrategyContinue, build(t, mem, schema, rows))
			if err != nil {
				t.Fatal(err)
			}
			if got := batch.ToNDJSON(res.Output...); got != "{\"id\":0,\"s\":\"secret one\",\"n\":null}\n{\"id\":9,\"s\":null,\"n\":null}\n" {
				t.Fatalf("output %s", got)
			}
			var reasons []string
			for _, b := range res.Ports[flow.PortErrors] {
				for _, r := range batch.Rows(b) {
					reasons = append(reasons, r["error"].(string))
					if strings.Contains(r["error"].(string), "secret") || strings.Contains(r["row"].(string), "secret") {
						t.Fatal("plaintext leaked into the rejection")
					}
				}
			}
			if len(reasons) != 3 || !strings.Contains(reasons[0], "authentication failed") || !strings.Contains(reasons[1], "not base64") || !strings.Contains(reasons[2], "too short") {
				t.Fatalf("reasons %q", reasons)
			}
			for _, r := range reasons {
				if !strings.Contains(r, `column "s"`) {
					t.Fatalf("reason %q does not name the column", r)
				}
			}
			res.Release()
			// Wrong key: every value fails authentication.
			rows = rows[:1]
			res, err = run(DecryptSpec(), mem, map[string]any{"columns": "s", "algorithm": alg, "key_env": "KEY_B"}, flow.StrategyContinue, build(t, mem, schema, rows))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Output) != 0 || len(res.Ports[flow.PortErrors]) != 1 {
				t.Fatalf("wrong key decrypted: %s", batch.ToNDJSON(res.Output...))
			}
			res.Release()
			// Under the stop strategy, the first bad value stops the run.
			_, err = run(DecryptSpec(), mem, map[string]any{"columns": "s", "algorithm": alg, "key_env": "KEY_B"}, "", build(t, mem, schema, rows))
			if !errors.Is(err, ErrDecrypt) || !errors.Is(err, flow.ErrRowRejected) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestKeyErrors(t *testing.T) {
	t.Setenv("SHORT_KEY", base64.StdEncoding.EncodeToString(make([]byte, 16)))
	t.Setenv("BAD_KEY", "not a key at all!")
	cases := []struct {
		alg, env string
		frags    []string
	}{
		{AES256GCM, "UNSET_KEY_FOR_TEST", []string{`"UNSET_KEY_FOR_TEST"`, "not set", "32-byte"}},
		{AES256GCM, "SHORT_KEY", []string{`"SHORT_KEY"`, "must be 32 bytes", "decodes to 16 bytes"}},
		{ChaCha20Poly1305, "BAD_KEY", []string{`"BAD_KEY"`, "neither hex nor base64"}},
	}
	for _, c := range cases {
		for _, spec := range []*flow.Spec{EncryptSpec(), DecryptSpec()} {
			mem := newMem(t)
			_, err := run(spec, mem, map[string]any{"columns": "s", "algorithm": c.alg, "key_env": c.env}, "", build(t, mem, schema, nil))
			if !errors.Is(err, ErrKey) {
				t.Fatalf("%s %s: err = %v", spec.Name, c.env, err)
			}
			for _, f := range c.frags {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("%s: error %q lacks %q", spec.Name, err, f)
				}
			}
		}
	}
	// A 16-byte key is right for aes-128-gcm.
	if _, err := LoadKey("x", "SHORT_KEY", AES128GCM); err != nil {
		t.Fatal(err)
	}
}

func TestSchemas(t *testing.T) {
	enc, dec := EncryptSpec(), DecryptSpec()
	cfg := flow.Config{"columns": []any{"n", "s"}, "algorithm": AES256GCM, "key_env": "K"}
	out, err := enc.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{schema})
	if err != nil || out.Field(2).Type.ID() != arrow.STRING {
		t.Fatalf("%v %v", out, err)
	}
	var ue *operators.UnknownColumnError
	if _, err := enc.Schema(flow.Config{"columns": "ss", "key_env": "K"}, flow.BuildEnv{}, []*arrow.Schema{schema}); !errors.As(err, &ue) || ue.Suggestion != "s" {
		t.Fatalf("err = %v", err)
	}
	if _, err := dec.Schema(flow.Config{"columns": "n", "key_env": "K"}, flow.BuildEnv{}, []*arrow.Schema{schema}); !errors.Is(err, operators.ErrTypeMismatch) {
		t.Fatalf("err = %v", err)
	}
	out, err = dec.Schema(flow.Config{"columns": "s", "key_env": "K", "types": map[string]any{"s": "float"}}, flow.BuildEnv{}, []*arrow.Schema{schema})
	if err != nil || out.Field(1).Type.ID() != arrow.FLOAT64 {
		t.Fatalf("%v %v", out, err)
	}
	if _, errs := flow.CheckConfig(dec, map[string]any{"columns": "s", "key_env": "K", "types": map[string]any{"x": "int"}}); len(errs) == 0 {
		t.Fatal("types for a column not decrypted accepted")
	}
}

func BenchmarkEncrypt(b *testing.B) {
	for _, alg := range algorithmNames {
		b.Run(alg, func(b *testing.B) {
			b.Setenv("BENCH_KEY", hex.EncodeToString(keyFor(alg, 3)))
			mem := memory.NewGoAllocator()
			const n = 1 << 20
			sb := array.NewStringBuilder(mem)
			for i := range n {
				sb.Append(fmt.Sprintf("user%07d@example.com", i))
			}
			col := sb.NewArray()
			defer col.Release()
			op, err := newEncrypt(flow.Config{"columns": "s", "algorithm": alg, "key_env": "BENCH_KEY"}, flow.BuildEnv{})
			if err != nil {
				b.Fatal(err)
			}
			e := op.(*encryptOp)
			b.SetBytes(int64(len(col.(*array.String).ValueBytes())))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				out, err := e.encryptColumn(mem, col.(*array.String))
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/value")
		})
	}
}

func TestRegister(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, name := range []string{"encrypt.apply", "decrypt.apply"} {
		spec, ok := r.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: %s has no doc", name, p.Name)
			}
		}
	}
}
