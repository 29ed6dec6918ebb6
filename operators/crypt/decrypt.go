package crypt

import (
	"context"
	"crypto/cipher"
	"encoding/base64"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/convert"
)

const decryptName = "decrypt.apply"

// DecryptSpec returns decrypt.apply's spec (a new value on each call).
func DecryptSpec() *flow.Spec {
	return &flow.Spec{
		Name:    decryptName,
		Kind:    flow.KindTransform,
		Tags:    []string{"security"},
		Summary: "Decrypt columns written by encrypt.apply.",
		Description: `Each value of the listed columns must be what encrypt.apply writes with the same
algorithm and key: standard base64 of nonce || ciphertext || tag. It is replaced by the
plaintext, as a string; types (a table column → type name, as cast.apply takes them)
converts chosen columns further, e.g. back to int. Nulls stay null. The other columns
are shared with the input.

A value that is not base64, is too short, or fails authentication (wrong key, wrong
algorithm, or altered data) makes its row rejected — sent to the stage's errors port or
the dead-letter output with a reason naming the column, and removed from the output — as
does a plaintext that does not convert to its configured type. The reason never holds
the plaintext (the rejected row holds the input, i.e. the ciphertext). Rejection follows
the stage's error strategy: under on_error = "stop" (the default) the first bad value
stops the pipeline; set on_error = "continue" to go on.

` + keyDoc,
		Params: []flow.Param{
			{Name: "columns", Type: flow.TypeStringOrList, Required: true, Doc: "String column or columns to decrypt."},
			{Name: "algorithm", Type: flow.TypeString, Default: AES256GCM, Allowed: algorithmNames, Doc: "aes-128-gcm, aes-256-gcm or chacha20-poly1305 (as encrypted)."},
			{Name: "key_env", Type: flow.TypeString, Required: true, Doc: "Environment variable holding the key (hex or base64)."},
			{Name: "types", Type: flow.TypeTable, Doc: "Optional table column → type name converting decrypted text (int, float, bool, timestamp, date, ...)."},
		},
		Check:  checkDecrypt,
		New:    newDecrypt,
		Schema: decryptSchema,
		Examples: []flow.Example{
			{
				Title:  "Nulls stay null",
				Config: "columns = \"ssn\"\nkey_env = \"CONVEYOR_EXAMPLE_KEY\"\n",
				Input:  "{\"id\":1,\"ssn\":null}\n",
				Output: "{\"id\":1,\"ssn\":null}\n",
			},
			{
				Title:  "A value encrypted with aes-256-gcm under the all-zero example key, back to an int",
				Config: "columns = \"amount\"\nkey_env = \"CONVEYOR_EXAMPLE_KEY\"\ntypes = { amount = \"int\" }\n",
				Input:  "{\"amount\":\"" + exampleCiphertext + "\"}\n",
				Output: "{\"amount\":1234}\n",
			},
		},
	}
}

// exampleCiphertext is "1234" under aes-256-gcm with the all-zero key and
// the all-zero nonce (for the example only: never reuse a nonce).
const exampleCiphertext = "AAAAAAAAAAAAAAAA/5VzCU+UKQhqb5u3lchB2U6LwDQ="

func checkDecrypt(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	cols := map[string]bool{}
	for _, c := range cfg.Strings("columns") {
		cols[c] = true
	}
	for _, col := range cfg.SortedKeys("types") {
		tn, ok := cfg.Table("types")[col].(string)
		if !ok {
			errs = append(errs, &flow.ConfigError{Key: "types", Message: fmt.Sprintf("column %q: type must be a string such as \"int\"", col)})
			continue
		}
		if _, err := batch.ParseType(tn); err != nil {
			errs = append(errs, &flow.ConfigError{Key: "types", Message: fmt.Sprintf("column %q: %v", col, err)})
		}
		if !cols[col] {
			errs = append(errs, &flow.ConfigError{Key: "types", Message: fmt.Sprintf("column %q is not one of the decrypted columns", col)})
		}
	}
	return errs
}

func decryptTypes(cfg flow.Config) map[string]arrow.DataType {
	out := map[string]arrow.DataType{}
	for col, v := range cfg.Table("types") {
		if s, ok := v.(string); ok {
			if dt, err := batch.ParseType(s); err == nil {
				out[col] = dt
			}
		}
	}
	return out
}

func bindDecrypt(columns []string, types map[string]arrow.DataType, schema *arrow.Schema) (*plan, error) {
	p := &plan{schema: schema}
	fields := append([]arrow.Field(nil), schema.Fields()...)
	for _, col := range columns {
		idx, err := columnIndex(decryptName, schema, col)
		if err != nil {
			return nil, &flow.ParamError{Key: "columns", Err: err}
		}
		if id := schema.Field(idx).Type.ID(); id != arrow.STRING {
			return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("%s: column %q is %s, not a string column of base64 ciphertext: %w",
				decryptName, col, batch.TypeName(schema.Field(idx).Type), operators.ErrTypeMismatch)}
		}
		dt := arrow.DataType(arrow.BinaryTypes.String)
		var k convert.CastFunc
		if t, ok := types[col]; ok && t.ID() != arrow.STRING {
			if k, err = convert.CastKernel(arrow.BinaryTypes.String, t); err != nil {
				return nil, &flow.ParamError{Key: "types", Err: fmt.Errorf("%s: column %q: %w", decryptName, col, err)}
			}
			dt = t
		}
		p.idx = append(p.idx, idx)
		p.kernels = append(p.kernels, k)
		fields[idx] = arrow.Field{Name: col, Type: dt, Nullable: fields[idx].Nullable || k != nil}
	}
	meta := schema.Metadata()
	p.outSchema = arrow.NewSchema(fields, &meta)
	return p, nil
}

func decryptSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) != 1 || inputs[0] == nil {
		return nil, nil
	}
	p, err := bindDecrypt(cfg.Strings("columns"), decryptTypes(cfg), inputs[0])
	if err != nil {
		return nil, err
	}
	return p.outSchema, nil
}

type decryptOp struct {
	columns []string
	types   map[string]arrow.DataType
	aead    cipher.AEAD
	plan    *plan
	raw     []byte
	row     int64
}

func newDecrypt(cfg flow.Config, env flow.BuildEnv) (any, error) {
	alg := cfg.Str("algorithm")
	key, err := LoadKey(decryptName, cfg.Str("key_env"), alg)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(alg, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", decryptName, err)
	}
	return &decryptOp{columns: cfg.Strings("columns"), types: decryptTypes(cfg), aead: aead}, nil
}

// Transform decrypts the configured columns of in (borrowed); rows with a
// value that does not decrypt are rejected.
func (d *decryptOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if d.plan == nil || (d.plan.schema != in.Schema() && !d.plan.schema.Equal(in.Schema())) {
		p, err := bindDecrypt(d.columns, d.types, in.Schema())
		if err != nil {
			return nil, err
		}
		d.plan = p
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	cols := append([]arrow.Array(nil), in.Columns()...)
	var owned []arrow.Array
	defer func() {
		for _, a := range owned {
			a.Release()
		}
	}()
	var reasons map[int32][]error
	fail := func(i int32, err error) {
		if reasons == nil {
			reasons = map[int32][]error{}
		}
		reasons[i] = append(reasons[i], err)
	}
	for k, idx := range d.plan.idx {
		col := d.columns[k]
		out := d.decryptColumn(st.Alloc, in.Column(idx).(*array.String), func(i int, why string) {
			fail(int32(i), fmt.Errorf("%s: column %q: %w: %s", decryptName, col, ErrDecrypt, why))
		})
		owned = append(owned, out)
		if kern := d.plan.kernels[k]; kern != nil {
			typed, fails := kern(st.Alloc, out)
			owned = append(owned, typed)
			for _, i := range fails {
				fail(i, fmt.Errorf("%s: column %q: the decrypted value is not a valid %s", decryptName, col, batch.TypeName(typed.DataType())))
			}
			out = typed
		}
		cols[idx] = out
	}
	res := array.NewRecordBatch(d.plan.outSchema, cols, int64(n))
	if len(reasons) == 0 {
		d.row += int64(n)
		return res, nil
	}
	defer res.Release()
	drop := make([]int32, 0, len(reasons))
	for i := int32(0); int(i) < n; i++ {
		if _, ok := reasons[i]; ok {
			drop = append(drop, i)
		}
	}
	out, err := operators.DropRows(ctx, st.Alloc, res, drop)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", decryptName, err)
	}
	for _, i := range drop {
		var reason error = joinedError(reasons[i])
		if len(reasons[i]) == 1 {
			reason = reasons[i][0]
		}
		if err := st.Reject(ctx, flow.Rejection{Err: reason, Source: fmt.Sprintf("row %d", d.row+int64(i)), Row: batch.Row(in, int(i))}); err != nil {
			if out != nil {
				out.Release()
			}
			return nil, err
		}
	}
	d.row += int64(n)
	return out, nil
}

// decryptColumn returns the plaintexts of src; a value that does not
// decrypt is null in the result and reported to fail.
func (d *decryptOp) decryptColumn(mem memory.Allocator, src *array.String, fail func(i int, why string)) arrow.Array {
	n := src.Len()
	ns, over := d.aead.NonceSize(), d.aead.Overhead()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	sb.Reserve(n)
	offs := src.ValueOffsets()
	values := src.ValueBytes()
	base := offs[0]
	sb.ReserveData(int(offs[n]-base) * 3 / 4)
	hasNulls := src.NullN() > 0
	var plain []byte
	for i := 0; i < n; i++ {
		if hasNulls && src.IsNull(i) {
			sb.AppendNull()
			continue
		}
		text := values[offs[i]-base : offs[i+1]-base]
		if cap(d.raw) < base64.StdEncoding.DecodedLen(len(text)) {
			d.raw = make([]byte, base64.StdEncoding.DecodedLen(len(text))*2)
		}
		m, err := base64.StdEncoding.Decode(d.raw[:cap(d.raw)], text)
		if err != nil {
			fail(i, "not base64")
			sb.AppendNull()
			continue
		}
		raw := d.raw[:m]
		if len(raw) < ns+over {
			fail(i, "too short to be a ciphertext")
			sb.AppendNull()
			continue
		}
		plain, err = d.aead.Open(plain[:0], raw[:ns], raw[ns:], nil)
		if err != nil {
			fail(i, "authentication failed (wrong key or algorithm, or altered data)")
			sb.AppendNull()
			continue
		}
		sb.BinaryBuilder.Append(plain)
	}
	return sb.NewArray()
}
