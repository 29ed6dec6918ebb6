package httpconn

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/flow"
)

// RegisterSources adds the HTTP sources to r.
func RegisterSources(r *flow.Registry) {
	r.Register(GetSpec())
	r.Register(ServeSpec())
}

// stageErr names the stage in a source's fatal error (rejected rows and
// cancellations already say what they are).
func stageErr(st *flow.Stage, err error) error {
	var re *flow.RowError
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("stage %q: %w", st.ID, err)
}

// Body formats of the HTTP sources.
const (
	formatJSON  = "json"
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// bodyParams are the parameters saying how the HTTP sources read a body:
// its format and the JSON and CSV reading options (the names json.read,
// csv.read and stdin.stream use).
func bodyParams(what string) []flow.Param {
	return []flow.Param{
		{Name: "format", Type: flow.TypeString, Default: formatJSON, Allowed: []string{formatJSON, formatJSONL, "ndjson", formatCSV},
			Doc: "json: the " + what + " is a JSON array of objects, or one object (several objects one after the other are " +
				"taken as several records); jsonl/ndjson: one JSON object per line; csv: CSV text (a header first unless has_headers = false)."},
		{Name: "records_path", Type: flow.TypeString,
			Doc: "json: dotted path to the records inside the " + what + ", e.g. \"data.items\" for {\"data\": {\"items\": [...]}} " +
				"(a number picks an array element); absent: the whole " + what + ". A path that ends on null means no records; " +
				"a key that is missing is an error."},
		{Name: "schema", Type: flow.TypeTable,
			Doc: "Column name → type (int, float, bool, string, timestamp, date) for the named columns; the others are inferred " +
				"from the first " + what + " and fixed from then on."},
		{Name: "infer_rows", Type: flow.TypeInt, Default: int64(10000), Min: flow.F(1),
			Doc: "Most records of the first " + what + " sampled to infer the column types."},
		{Name: "has_headers", Type: flow.TypeBool, Default: true, Aliases: []string{"headers"},
			Doc: "csv: the first line of each " + what + " names the columns (otherwise column_1..column_n)."},
		{Name: "delimiter", Type: flow.TypeString, Default: ",", Doc: `csv: field separator, one ASCII character ("\t" for tab).`},
		{Name: "null_values", Type: flow.TypeStringOrList, Default: []any{""}, Doc: "csv: field texts read as null."},
	}
}

// bodyOptions say how bodies are read.
type bodyOptions struct {
	format      string
	recordsPath []string
	override    *arrow.Schema
	inferRows   int
	csv         csvconn.ReadOptions
}

func bodyOptionsFromConfig(cfg flow.Config) (bodyOptions, error) {
	o := bodyOptions{format: cfg.Str("format"), inferRows: cfg.Int("infer_rows")}
	switch o.format {
	case "", formatJSON:
		o.format = formatJSON
	case formatJSONL, "ndjson":
		o.format = formatJSONL
	case formatCSV:
	default:
		return o, &flow.ParamError{Key: "format", Err: fmt.Errorf("unknown format %q (one of json, jsonl, csv)", o.format)}
	}
	if o.inferRows < 1 {
		o.inferRows = 10000
	}
	if p := strings.TrimSpace(cfg.Str("records_path")); p != "" {
		o.recordsPath = strings.Split(p, ".")
		for _, seg := range o.recordsPath {
			if seg == "" {
				return o, &flow.ParamError{Key: "records_path", Err: fmt.Errorf("%q has an empty segment", p)}
			}
		}
	}
	if cfg.Has("schema") {
		sc, err := batch.SchemaFromTable(cfg.Table("schema"), cfg.SortedKeys("schema"))
		if err != nil {
			return o, &flow.ParamError{Key: "schema", Err: err}
		}
		o.override = sc
	}
	if o.format == formatCSV {
		cc := flow.Config{}
		for _, k := range []string{"has_headers", "delimiter", "null_values", "schema", "infer_rows"} {
			if v, ok := cfg[k]; ok {
				cc[k] = v
			}
			if v, ok := cfg[k+"\x00order"]; ok {
				cc[k+"\x00order"] = v
			}
		}
		var err error
		// A body is read whole: one batch however many rows it holds.
		o.csv, err = csvconn.ReadOptionsFromConfig(cc, flow.BuildEnv{BatchSize: 1 << 30})
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// checkBodyParams is the cross-parameter validation shared by the sources.
func checkBodyParams(cfg flow.Config) []*flow.ConfigError {
	if _, err := bodyOptionsFromConfig(cfg); err != nil {
		var pe *flow.ParamError
		if errors.As(err, &pe) {
			return []*flow.ConfigError{{Key: pe.Key, Message: pe.Err.Error()}}
		}
		return []*flow.ConfigError{{Message: err.Error()}}
	}
	return nil
}

// badRecord is a record of a body that could not be taken.
type badRecord struct {
	// where locates it in the body: "record 3" (json) or "line 4".
	where string
	err   error
	raw   string
	row   map[string]any
}

func (r badRecord) String() string { return r.where + ": " + r.err.Error() }

// decoder turns whole bodies into batches of one schema: the schema is
// inferred from the first body that has records (with the schema
// parameter's overrides) and kept; a later record with a key the schema
// lacks, or a value that does not fit its column, is a bad record, never
// trimmed. It is safe for concurrent use.
type decoder struct {
	opts bodyOptions
	// origin names what fixed the schema in messages ("request", "page").
	origin string
	mu     sync.Mutex // held while the first schema is inferred
	schema atomic.Pointer[arrow.Schema]
}

func newDecoder(opts bodyOptions, origin string) *decoder {
	return &decoder{opts: opts, origin: origin}
}

// Schema is the schema fixed so far (nil: none yet).
func (d *decoder) Schema() *arrow.Schema { return d.schema.Load() }

// decode reads body into one batch (nil when it holds no records to keep)
// and the records it could not take. A non-nil error means the body as a
// whole could not be read (not JSON, a CSV header that does not fit). With
// strict, a body with a bad record does not fix the schema (http.serve
// takes a body whole or not at all); otherwise the first body with a good
// record does.
func (d *decoder) decode(ctx context.Context, mem memory.Allocator, clk clock.Clock, body []byte, strict bool) (arrow.RecordBatch, []badRecord, error) {
	if d.opts.format == formatCSV {
		return d.decodeCSV(ctx, mem, clk, body, strict)
	}
	recs, err := jsonRecords(body, d.opts.format, d.opts.recordsPath)
	if err != nil {
		return nil, nil, err
	}
	return d.buildJSON(mem, recs, strict)
}

// lockForFirst returns the fixed schema, or nil with d.mu held when the
// caller is to infer it (it must then call d.mu.Unlock).
func (d *decoder) lockForFirst() *arrow.Schema {
	if s := d.schema.Load(); s != nil {
		return s
	}
	d.mu.Lock()
	if s := d.schema.Load(); s != nil {
		d.mu.Unlock()
		return s
	}
	return nil
}

func (d *decoder) unknownKey(k string) error {
	return fmt.Errorf("key %q is not in the schema fixed by the first %s (name it in schema to accept it from the start)", k, d.origin)
}

func (d *decoder) buildJSON(mem memory.Allocator, recs []jsonRecord, strict bool) (arrow.RecordBatch, []badRecord, error) {
	var bad []badRecord
	good := recs[:0:0]
	for _, r := range recs {
		if r.err != nil {
			bad = append(bad, badRecord{where: r.where, err: r.err, raw: r.raw})
			continue
		}
		good = append(good, r)
	}
	schema := d.lockForFirst()
	first := schema == nil
	if first {
		defer d.mu.Unlock()
		in := batch.NewJSONInferrer()
		for i, r := range good {
			if i == d.opts.inferRows {
				break
			}
			in.ObserveKeys(r.m, r.keys)
		}
		if len(good) == 0 && d.opts.override == nil {
			return nil, bad, nil // nothing to infer from yet
		}
		schema = withOverrides(in.Schema(), d.opts.override)
		if schema.NumFields() == 0 {
			return nil, bad, errors.New("the records have no keys: no column to infer")
		}
	}
	b, err := batch.NewBuilder(mem, schema)
	if err != nil {
		return nil, nil, &flow.ParamError{Key: "schema", Err: err}
	}
	defer b.Release()
	cols := make(map[string]bool, schema.NumFields())
	for _, f := range schema.Fields() {
		cols[f.Name] = true
	}
	for _, r := range good {
		var rerr error
		for _, k := range r.keys {
			if !cols[k] {
				rerr = d.unknownKey(k)
				break
			}
		}
		if rerr == nil {
			rerr = b.Append(r.m)
		}
		if rerr != nil {
			br := badRecord{where: r.where, err: rerr, raw: r.raw}
			if r.raw == "" {
				br.row = r.m
			}
			bad = append(bad, br)
		}
	}
	if first && (!strict || len(bad) == 0) {
		d.schema.Store(schema)
	}
	if b.Len() == 0 {
		return nil, bad, nil
	}
	return b.NewBatch(), bad, nil
}

// withOverrides gives the columns named in over their type there, and
// appends the columns of over that inferred lacks.
func withOverrides(inferred, over *arrow.Schema) *arrow.Schema {
	if over == nil {
		return inferred
	}
	fields := make([]arrow.Field, 0, inferred.NumFields()+over.NumFields())
	seen := map[string]bool{}
	for _, f := range inferred.Fields() {
		if idx := over.FieldIndices(f.Name); len(idx) > 0 {
			f = over.Field(idx[0])
			f.Nullable = true
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	for _, f := range over.Fields() {
		if !seen[f.Name] {
			f.Nullable = true
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil)
}

// jsonRecord is one record of a JSON body, or why it is not one.
type jsonRecord struct {
	m     map[string]any
	keys  []string
	where string
	raw   string
	err   error
}

// jsonRecords splits a body into records: for jsonl one object per
// non-blank line; for json the array (or the objects) found at path.
func jsonRecords(body []byte, format string, path []string) ([]jsonRecord, error) {
	if format == formatJSONL {
		return jsonLines(body), nil
	}
	data := body
	if len(path) > 0 {
		var err error
		if data, err = locate(body, path); err != nil {
			return nil, err
		}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		if len(path) > 0 {
			return nil, nil
		}
		return nil, errors.New("empty body: expected a JSON array or object")
	}
	if bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var recs []jsonRecord
	fatal := func(n int, err error) error {
		where := "the body"
		if len(path) > 0 {
			where = "records_path " + strconv.Quote(strings.Join(path, "."))
		}
		var se *json.SyntaxError
		if errors.As(err, &se) && len(path) == 0 {
			off := min(int(dec.InputOffset()), len(trimmed))
			return fmt.Errorf("invalid JSON in %s at line %d: %v", where, 1+bytes.Count(trimmed[:off], []byte{'\n'}), err)
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("invalid JSON in %s: unexpected end after record %d", where, n)
		}
		return fmt.Errorf("invalid JSON in %s (record %d): %v", where, n+1, err)
	}
	next := func(n int) (jsonRecord, error) {
		m, keys, err := batch.DecodeObject(dec)
		r := jsonRecord{m: m, keys: keys, where: fmt.Sprintf("record %d", n+1)}
		if err != nil {
			if errors.Is(err, batch.ErrNotObject) {
				r.m, r.keys, r.err = nil, nil, err
				return r, nil
			}
			return r, err
		}
		return r, nil
	}
	if trimmed[0] == '[' {
		if _, err := dec.Token(); err != nil {
			return nil, fatal(0, err)
		}
		for dec.More() {
			r, err := next(len(recs))
			if err != nil {
				return nil, fatal(len(recs), err)
			}
			recs = append(recs, r)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fatal(len(recs), err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("invalid JSON: unexpected data after the array of %d records", len(recs))
		}
		return recs, nil
	}
	// One object, or several one after the other.
	for {
		r, err := next(len(recs))
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, fatal(len(recs), err)
		}
		recs = append(recs, r)
	}
}

// jsonLines splits JSON lines.
func jsonLines(body []byte) []jsonRecord {
	var recs []jsonRecord
	line := 0
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		var text []byte
		if i < 0 {
			text, body = body, nil
		} else {
			text, body = body[:i], body[i+1:]
		}
		line++
		text = bytes.TrimRight(text, "\r")
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\xEF\xBB\xBF"))
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		m, keys, err := batch.ParseObject(text)
		r := jsonRecord{m: m, keys: keys, where: fmt.Sprintf("line %d", line)}
		if err != nil {
			r.m, r.keys, r.err, r.raw = nil, nil, fmt.Errorf("invalid JSON: %w", err), string(text)
		}
		recs = append(recs, r)
	}
	return recs
}

// locate returns the JSON text at a dotted path inside body.
func locate(body []byte, path []string) ([]byte, error) {
	cur := bytes.TrimSpace(body)
	for i, seg := range path {
		if len(cur) == 0 || bytes.Equal(cur, []byte("null")) {
			return nil, nil
		}
		at := "the body"
		if i > 0 {
			at = strconv.Quote(strings.Join(path[:i], "."))
		}
		switch cur[0] {
		case '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(cur, &m); err != nil {
				return nil, fmt.Errorf("invalid JSON: %v", err)
			}
			v, ok := m[seg]
			if !ok {
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if len(keys) > 12 {
					keys = append(keys[:12], "…")
				}
				return nil, fmt.Errorf("records_path %q: %s has no key %q (keys: %s)", strings.Join(path, "."), at, seg, strings.Join(keys, ", "))
			}
			cur = bytes.TrimSpace(v)
		case '[':
			var a []json.RawMessage
			if err := json.Unmarshal(cur, &a); err != nil {
				return nil, fmt.Errorf("invalid JSON: %v", err)
			}
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(a) {
				return nil, fmt.Errorf("records_path %q: %s is an array of %d elements, %q is not an index in it", strings.Join(path, "."), at, len(a), seg)
			}
			cur = bytes.TrimSpace(a[n])
		default:
			if !json.Valid(cur) {
				return nil, errors.New("invalid JSON: the body is not a JSON document")
			}
			return nil, fmt.Errorf("records_path %q: %s is not an object", strings.Join(path, "."), at)
		}
	}
	return cur, nil
}

// csvBody is the operator reading one CSV body in an isolated run.
type csvBody struct {
	data []byte
	opts csvconn.ReadOptions
}

func (c *csvBody) Run(ctx context.Context, st *flow.Stage) error {
	return csvconn.ReadStream(ctx, st, bytes.NewReader(c.data), "body", c.opts)
}

// decodeCSV reads a CSV body with the CSV reader of csv.read, in an
// isolated run of its own (so that bodies are parsed concurrently, off the
// stage's goroutine): with the column types of the fixed schema once there
// is one.
func (d *decoder) decodeCSV(ctx context.Context, mem memory.Allocator, clk clock.Clock, body []byte, strict bool) (arrow.RecordBatch, []badRecord, error) {
	schema := d.lockForFirst()
	first := schema == nil
	if first {
		defer d.mu.Unlock()
	}
	opts := d.opts.csv
	if !first {
		opts.Schema = schema.Fields()
		if opts.HasHeader {
			// Columns the header lacks are null, as missing JSON keys:
			// fix the types of the others only.
			names := csvHeader(body, opts.Delimiter)
			opts.Schema = slices.DeleteFunc(slices.Clone(opts.Schema), func(f arrow.Field) bool { return !slices.Contains(names, f.Name) })
		}
	}
	op := &csvBody{data: body, opts: opts}
	spec := &flow.Spec{Name: "http.body", Kind: flow.KindSource,
		New: func(flow.Config, flow.BuildEnv) (any, error) { return op, nil }}
	res, err := flow.RunIsolated(ctx, spec, nil, flow.BuildEnv{StageID: "body", Alloc: mem, Clock: clk}, flow.StrategyContinue)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "body: ")
		if !first && strings.Contains(msg, "schema column") {
			msg += fmt.Sprintf(" (the columns were fixed by the first %s)", d.origin)
		}
		return nil, nil, errors.New(msg)
	}
	defer res.Release()
	var bad []badRecord
	for _, eb := range res.Ports[flow.PortErrors] {
		src := eb.Column(2).(*array.String)
		msg := eb.Column(3).(*array.String)
		raw := eb.Column(5).(*array.String)
		for i := range int(eb.NumRows()) {
			where := strings.TrimPrefix(src.Value(i), "body:")
			if where != "" {
				where = "line " + where
			}
			bad = append(bad, badRecord{where: where, err: errors.New(msg.Value(i)), raw: raw.Value(i)})
		}
	}
	if len(res.Output) == 0 {
		return nil, bad, nil
	}
	var out arrow.RecordBatch
	if len(res.Output) == 1 {
		out = res.Output[0]
		out.Retain()
	} else if out, err = batch.Concat(mem, res.Output); err != nil {
		return nil, nil, err
	}
	if first {
		if !strict || len(bad) == 0 {
			d.schema.Store(out.Schema())
		}
		return out, bad, nil
	}
	defer out.Release()
	for _, f := range out.Schema().Fields() {
		if !slices.ContainsFunc(schema.Fields(), func(g arrow.Field) bool { return g.Name == f.Name }) {
			return nil, nil, fmt.Errorf("column %q is not in the schema fixed by the first %s (columns: %s)", f.Name, d.origin, strings.Join(fieldNames(schema), ", "))
		}
	}
	proj, err := batch.Project(mem, out, schema)
	if err != nil {
		return nil, nil, err
	}
	return proj, bad, nil
}

// csvHeader returns the column names of a CSV body's header (nil when it
// cannot be read: the CSV reader then reports the problem).
func csvHeader(body []byte, delim rune) []string {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	names, err := r.Read()
	if err != nil {
		return nil
	}
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	return names
}

func fieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}
