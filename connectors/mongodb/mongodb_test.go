package mongodb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/connectors/stdio"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

var serverURI string

// TestMain runs one FerretDB (a MongoDB-protocol server on SQLite) for the
// package, on 127.0.0.1.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferretdb-")
	if err != nil {
		panic(err)
	}
	f, err := ferretdb.New(&ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}, Handler: "sqlite", SQLiteURL: "file:" + dir + "/"})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	for i := 0; i < 200 && serverURI == ""; i++ {
		time.Sleep(10 * time.Millisecond)
		func() {
			defer func() { recover() }()
			serverURI = f.MongoDBURI()
		}()
	}
	code := m.Run()
	cancel()
	<-done
	os.RemoveAll(dir)
	os.Exit(code)
}

func client(t *testing.T) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(serverURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

// collector keeps every row a sink receives.
type collector struct {
	mu   sync.Mutex
	rows []map[string]any
	sch  *arrow.Schema
}

func (c *collector) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sch = b.Schema()
	c.rows = append(c.rows, batch.Rows(b)...)
	return nil
}
func (*collector) Close(context.Context, *flow.Stage) error { return nil }
func (*collector) Abort()                                   {}

// run runs a pipeline (the catalog plus test.collect) and returns the
// collected rows and the dead-letter records.
func run(t *testing.T, src string) (*collector, *flow.Runner, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := &collector{}
	reg := catalog.Registry()
	reg.Register(&flow.Spec{Name: "test.collect", Kind: flow.KindSink, Summary: "collects",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return c, nil }})
	src = strings.ReplaceAll(src, "URI", serverURI)
	f, err := flow.Parse("p.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		return nil, nil, err
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, BaseDir: t.TempDir()})
	if err != nil {
		return nil, nil, err
	}
	err = r.Run(context.Background())
	return c, r, err
}

func mustRun(t *testing.T, src string) (*collector, *flow.Runner) {
	t.Helper()
	c, r, err := run(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

// 100k documents: generate → insertMany → find → compare.
func TestRoundTrip100k(t *testing.T) {
	const n = 100000
	start := time.Now()
	mustRun(t, fmt.Sprintf(`[pipeline]
name = "load"
[[stages]]
id = "gen"
function = "generate"
[stages.config]
count = %d
start_time = "2024-05-01T00:00:00Z"
[stages.config.columns]
id = "seq"
name = "concat('user-', string(seq %% 1000))"
amount = "round(rand * 1000, 2)"
at = "ts"
[[stages]]
id = "save"
function = "mongodb.insertMany"
inputs = ["gen"]
[stages.config]
uri = "URI"
database = "rt"
collection = "docs"
batch_size = 5000
`, n))
	inserted := time.Since(start)
	c, _ := mustRun(t, `[pipeline]
name = "read"
[[stages]]
id = "find"
function = "mongodb.find"
[stages.config]
uri = "URI"
database = "rt"
collection = "docs"
projection = '{"_id": 0}'
batch_size = 5000
[[stages]]
id = "out"
function = "test.collect"
inputs = ["find"]
`)
	t.Logf("100k documents inserted in %v, read back in %v", inserted, time.Since(start)-inserted)
	if len(c.rows) != n {
		t.Fatalf("read %d documents, want %d", len(c.rows), n)
	}
	want := "id:int64 name:utf8 amount:float64 at:timestamp[us, tz=UTC]"
	var got []string
	for _, f := range c.sch.Fields() {
		got = append(got, f.Name+":"+f.Type.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("schema %v, want %s", got, want)
	}
	// Compared in id order (no sort asked of the server: its sort is an
	// in-memory one on this test server).
	sort.Slice(c.rows, func(a, b int) bool { return c.rows[a]["id"].(int64) < c.rows[b]["id"].(int64) })
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range c.rows {
		if r["id"] != int64(i) || r["name"] != fmt.Sprintf("user-%d", i%1000) {
			t.Fatalf("row %d: %v", i, r)
		}
		if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["at"])); err != nil || !at.Equal(base.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("row %d: at %v", i, r["at"])
		}
	}
}

// BSON → Arrow: ObjectId, date, int32/int64/double, decimal128, nested
// documents of one shape (struct) and of differing shapes (JSON), arrays
// (list), documents with differing fields (nulls).
func TestTypeMapping(t *testing.T) {
	c := client(t)
	coll := c.Database("types").Collection("t")
	oid := bson.NewObjectID()
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	docs := []any{
		bson.D{{Key: "_id", Value: oid}, {Key: "i32", Value: int32(7)}, {Key: "i64", Value: int64(1) << 40}, {Key: "f", Value: 1.5},
			{Key: "d", Value: bson.NewDateTimeFromTime(at)},
			{Key: "addr", Value: bson.D{{Key: "city", Value: "Lyon"}, {Key: "zip", Value: int32(69001)}}},
			{Key: "meta", Value: bson.D{{Key: "a", Value: int32(1)}}},
			{Key: "tags", Value: bson.A{"x", "y"}}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "i32", Value: int32(8)}, {Key: "f", Value: int32(2)},
			{Key: "addr", Value: bson.D{{Key: "city", Value: "Nice"}, {Key: "zip", Value: int32(6000)}}},
			{Key: "meta", Value: bson.D{{Key: "b", Value: "other shape"}}},
			{Key: "tags", Value: bson.A{}}, {Key: "extra", Value: true}},
	}
	if _, err := coll.InsertMany(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	got, _ := mustRun(t, `[pipeline]
name = "types"
[[stages]]
id = "find"
function = "mongodb.find"
[stages.config]
uri = "URI"
database = "types"
collection = "t"
sort = '{"i32": 1}'
[[stages]]
id = "out"
function = "test.collect"
inputs = ["find"]
`)
	types := map[string]string{}
	for _, f := range got.sch.Fields() {
		types[f.Name] = f.Type.String()
		if m, ok := f.Metadata.GetValue("conveyor.bson"); ok {
			types[f.Name] += " " + m
		}
	}
	want := map[string]string{
		"_id": "utf8 objectid", "i32": "int32", "i64": "int64", "f": "float64", "d": "timestamp[us, tz=UTC]",
		"addr": "struct<city: utf8 nullable, zip: int32 nullable>", "meta": "utf8", "tags": "list<item: utf8, nullable>", "extra": "bool",
	}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("%s: %s, want %s", k, types[k], v)
		}
	}
	r0, r1 := got.rows[0], got.rows[1]
	if r0["_id"] != oid.Hex() || r1["i64"] != nil || r1["f"] != 2.0 || r1["extra"] != true || r0["extra"] != nil {
		t.Errorf("rows: %v\n%v", r0, r1)
	}
	if text(r0["meta"]) != `{"a":1}` || text(r1["meta"]) != `{"b":"other shape"}` {
		t.Errorf("meta (shapes differ → JSON): %v / %v", r0["meta"], r1["meta"])
	}
	if fmt.Sprint(r0["addr"]) != "map[city:Lyon zip:69001]" || text(r0["tags"]) != `["x","y"]` {
		t.Errorf("nested: %v %v", r0["addr"], r0["tags"])
	}

	// And back: the rows written to another collection keep their BSON
	// types (ObjectId, date, decimal, nested document, array).
	mustRun(t, `[pipeline]
name = "copy"
[[stages]]
id = "find"
function = "mongodb.find"
[stages.config]
uri = "URI"
database = "types"
collection = "t"
[[stages]]
id = "save"
function = "mongodb.insertMany"
inputs = ["find"]
[stages.config]
uri = "URI"
database = "types"
collection = "copy"
`)
	var back bson.M
	if err := c.Database("types").Collection("copy").FindOne(context.Background(), bson.D{{Key: "_id", Value: oid}}).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if _, ok := back["d"].(bson.DateTime); !ok {
		t.Errorf("date written back as %T", back["d"])
	}
	if _, ok := back["addr"].(bson.D); !ok {
		t.Errorf("nested document written back as %T", back["addr"])
	}
	if _, ok := back["meta"].(bson.D); !ok {
		t.Errorf("JSON column written back as %T, want a document", back["meta"])
	}
}

func count(t *testing.T, coll *mongo.Collection, filter any) int64 {
	t.Helper()
	n, err := coll.CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Each write operation, with templates, upsert, and per-document errors
// to the dead-letter output while the others are written.
func TestWriteOperations(t *testing.T) {
	c := client(t)
	coll := c.Database("w").Collection("orders")
	pipeline := func(op, extra, rows string) string {
		return fmt.Sprintf(`[pipeline]
name = "w"
[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
enabled = true
path = "dead.jsonl"
[[stages]]
id = "in"
function = "stdin.read"
[[stages]]
id = "w"
function = "mongodb.%s"
inputs = ["in"]
[stages.config]
uri = "URI"
database = "w"
collection = "orders"
%s
`, op, extra) + "\x00" + rows
	}
	do := func(op, extra, rows string) *flow.Runner {
		src, input, _ := strings.Cut(pipeline(op, extra, rows), "\x00")
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		reg := catalog.RegistryWith(stdioStreams(input))
		f, err := flow.Parse("p.toml", []byte(strings.ReplaceAll(src, "URI", serverURI)))
		if err != nil {
			t.Fatal(err)
		}
		g, err := flow.Validate(f, reg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := flow.NewRunner(g, flow.Options{Alloc: mem, BaseDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	do("insertMany", "", `{"_id":1,"sku":"a","qty":1}
{"_id":2,"sku":"b","qty":2}
{"_id":3,"sku":"c","qty":3}
`)
	// A duplicate _id fails only its document.
	r := do("insertOne", "", `{"_id":3,"sku":"dup","qty":9}
{"_id":4,"sku":"d","qty":4}
`)
	if count(t, coll, bson.D{}) != 4 || r.DeadLettered() != 1 {
		t.Fatalf("after insertOne: %d documents, %d dead-lettered", count(t, coll, bson.D{}), r.DeadLettered())
	}
	do("updateOne", `query = '{"sku": {{ sku }}}'
update = '{"$inc": {"qty": {{ add }}}}'`, `{"sku":"a","add":10}
`)
	do("updateMany", `query = '{"qty": {"$lt": {{ below }}}}'
update = '{"$set": {"small": true}}'`, `{"below":4}
`)
	if count(t, coll, bson.D{{Key: "qty", Value: 11}}) != 1 || count(t, coll, bson.D{{Key: "small", Value: true}}) != 2 {
		t.Fatal("updates not applied")
	}
	do("replaceOne", `query = '{"_id": {{ _id }}}'`, `{"_id":2,"sku":"B","qty":20}
`)
	do("replaceMany", `query = '{"_id": {{ _id }}}'
upsert = true`, `{"_id":3,"sku":"C","qty":30}
{"_id":7,"sku":"G","qty":70}
`)
	if count(t, coll, bson.D{{Key: "sku", Value: "B"}}) != 1 || count(t, coll, bson.D{{Key: "_id", Value: 7}}) != 1 {
		t.Fatal("replace not applied")
	}
	do("deleteOne", `query = '{"_id": {{ _id }}}'`, `{"_id":7}
`)
	do("deleteMany", `query = '{"qty": {"$gte": {{ min }}}}'`, `{"min":30}
`)
	if count(t, coll, bson.D{}) != 3 {
		t.Fatalf("after deletes: %d documents", count(t, coll, bson.D{}))
	}
	do("bulkWrite", `query = '{"_id": {{ _id }}}'
update = '{"$set": {"sku": {{ sku }}}}'`, `{"operation":"insert","_id":10,"sku":"j"}
{"operation":"update","_id":1,"sku":"A"}
{"operation":"delete","_id":4,"sku":null}
`)
	if count(t, coll, bson.D{}) != 3 || count(t, coll, bson.D{{Key: "sku", Value: "A"}}) != 1 || count(t, coll, bson.D{{Key: "_id", Value: 10}}) != 1 {
		t.Fatal("bulkWrite not applied")
	}
}

// A source with an input is a lookup: one query per distinct template
// value.
func TestLookupTemplates(t *testing.T) {
	c := client(t)
	coll := c.Database("lk").Collection("users")
	if _, err := coll.InsertMany(context.Background(), []any{
		bson.D{{Key: "uid", Value: "u1"}, {Key: "name", Value: "Ann"}},
		bson.D{{Key: "uid", Value: "u2"}, {Key: "name", Value: "Bob"}},
		bson.D{{Key: "uid", Value: "u3"}, {Key: "name", Value: "Cy"}},
	}); err != nil {
		t.Fatal(err)
	}
	reg := catalog.RegistryWith(stdioStreams(`{"user":"u2"}
{"user":"u1"}
{"user":"u2"}
`))
	col := &collector{}
	reg.Register(&flow.Spec{Name: "test.collect", Kind: flow.KindSink, Summary: "collects",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return col, nil }})
	f, err := flow.Parse("p.toml", []byte(strings.ReplaceAll(`[[stages]]
id = "in"
function = "stdin.read"
[[stages]]
id = "users"
function = "mongodb.find"
inputs = ["in"]
[stages.config]
uri = "URI"
database = "lk"
collection = "users"
query = '{"uid": {{ user }}}'
projection = '{"_id": 0}'
[[stages]]
id = "out"
function = "test.collect"
inputs = ["users"]
`, "URI", serverURI)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(col.rows) != "[map[name:Bob uid:u2] map[name:Ann uid:u1]]" {
		t.Errorf("lookup rows: %v", col.rows)
	}
}

// A wrong URI, an unreachable server and an invalid query each fail with
// a clear error.
func TestClearErrors(t *testing.T) {
	find := func(uri, query string) error {
		_, _, err := run(t, fmt.Sprintf(`[[stages]]
id = "find"
function = "mongodb.find"
[stages.config]
uri = %q
database = "x"
collection = "y"
query = '%s'
connect_timeout = "1s"
[[stages]]
id = "out"
function = "test.collect"
inputs = ["find"]
`, uri, query))
		return err
	}
	for _, c := range []struct{ uri, query, want string }{
		{"notmongo://host", "{}", "invalid uri"},
		{"mongodb://127.0.0.1:1", "{}", "cannot reach mongodb://127.0.0.1:1"},
		{"URI", `{"a": `, `query: not a JSON object`},
	} {
		err := find(c.uri, c.query)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("uri %s query %s: error %v, want %q", c.uri, c.query, err, c.want)
		}
	}
	// A pipeline the server refuses.
	_, _, err := run(t, `[[stages]]
id = "agg"
function = "mongodb.aggregate"
[stages.config]
uri = "URI"
database = "x"
collection = "y"
pipeline = '[{"$bogus": {}}]'
[[stages]]
id = "out"
function = "test.collect"
inputs = ["agg"]
`)
	if err == nil || !strings.Contains(err.Error(), "aggregate on x.y") {
		t.Errorf("invalid pipeline: error %v", err)
	}
}

func text(v any) string {
	switch b := v.(type) {
	case []byte:
		return string(b)
	case json.RawMessage:
		return string(b)
	}
	return fmt.Sprint(v)
}

func stdioStreams(input string) stdio.Streams {
	return stdio.Streams{Stdin: strings.NewReader(input), Stdout: io.Discard}
}
