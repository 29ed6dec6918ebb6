package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

// cluster starts an in-process Kafka-protocol broker with the topics
// (name → partitions).
func cluster(t *testing.T, topics map[string]int) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for name, parts := range topics {
		opts = append(opts, kfake.SeedTopics(int32(parts), name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func produceN(t *testing.T, broker, topic string, n int, value func(i int) string) {
	t.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: topic, Balancer: &kafkago.RoundRobin{}, BatchSize: 1000, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafkago.Message, 0, 1000)
	for i := range n {
		msgs = append(msgs, kafkago.Message{Key: []byte(strconv.Itoa(i)), Value: []byte(value(i))})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

// readAll reads every message of a topic (all partitions) until n are read.
func readAll(t *testing.T, broker, topic string, n int) []kafkago.Message {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, GroupID: "reader-" + topic, GroupTopics: []string{topic},
		StartOffset: kafkago.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []kafkago.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func runPipeline(t *testing.T, src string) *flow.Runner {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, err := flow.Parse("p.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, catalog.Registry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// 100k JSON messages through consume → map → produce, content checked.
func TestRoundTrip100k(t *testing.T) {
	const n = 100_000
	broker := cluster(t, map[string]int{"in": 4, "out": 4})
	produceN(t, broker, "in", n, func(i int) string { return fmt.Sprintf(`{"id":%d,"user":"u%d","amount":%d}`, i, i%97, i%1000) })
	start := time.Now()
	runPipeline(t, fmt.Sprintf(`[pipeline]
name = "roundtrip"
[[stages]]
id = "in"
function = "kafka.consume"
[stages.config]
brokers = [%q]
topic = "in"
group_id = "rt"
max_messages = %d
batch_size = 10000
[[stages]]
id = "double"
function = "map.apply"
inputs = ["in"]
[stages.config.columns]
amount2 = "amount * 2"
[[stages]]
id = "out"
function = "kafka.produce"
inputs = ["double"]
[stages.config]
brokers = [%q]
topic = "out"
key_field = "user"
`, broker, n, broker))
	t.Logf("100k messages consume → map → produce in %v", time.Since(start))
	got := readAll(t, broker, "out", n)
	ids := make([]int, 0, n)
	for _, m := range got {
		var id, amount, amount2 int
		var user string
		s := strings.NewReplacer(`"`, "", "{", "", "}", "").Replace(string(m.Value))
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch k {
			case "id":
				id, _ = strconv.Atoi(v)
			case "amount":
				amount, _ = strconv.Atoi(v)
			case "amount2":
				amount2, _ = strconv.Atoi(v)
			case "user":
				user = v
			}
		}
		if amount != id%1000 || amount2 != 2*amount || user != fmt.Sprintf("u%d", id%97) || string(m.Key) != user {
			t.Fatalf("message %s (key %s)", m.Value, m.Key)
		}
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for i, id := range ids {
		if id != i {
			t.Fatalf("ids: position %d holds %d (missing or duplicated messages)", i, id)
		}
	}
}

func consumePipeline(broker, group string, extra string) string {
	return fmt.Sprintf(`[pipeline]
name = "c"
[[stages]]
id = "in"
function = "kafka.consume"
[stages.config]
brokers = [%q]
topic = "in"
group_id = %q
batch_size = 100
linger = "20ms"
retry_backoff = "100ms"
%s
[[stages]]
id = "out"
function = "discard.write"
inputs = ["in"]
`, broker, group, extra)
}

// Offsets are committed once the sink acknowledged: a second run of the
// same group reads nothing more, a run of another group reads everything.
func TestCommitsAfterAcknowledgement(t *testing.T) {
	broker := cluster(t, map[string]int{"in": 2})
	produceN(t, broker, "in", 1000, func(i int) string { return fmt.Sprintf(`{"id":%d}`, i) })
	r := runPipeline(t, consumePipeline(broker, "g1", "max_messages = 1000"))
	if n := r.Report()[1].RowsIn; n != 1000 {
		t.Fatalf("first run read %d", n)
	}
	produceN(t, broker, "in", 10, func(i int) string { return fmt.Sprintf(`{"id":%d}`, 1000+i) })
	r = runPipeline(t, consumePipeline(broker, "g1", "timeout_ms = 1500"))
	if n := r.Report()[1].RowsIn; n != 10 {
		t.Errorf("second run of the group read %d messages, want the 10 new ones", n)
	}
	r = runPipeline(t, consumePipeline(broker, "g2", "max_messages = 1010"))
	if n := r.Report()[1].RowsIn; n != 1010 {
		t.Errorf("another group read %d, want 1010", n)
	}
}

// A broker that cannot be reached gives a clear error after the retries.
func TestBrokerUnavailableAtStart(t *testing.T) {
	f, err := flow.Parse("p.toml", []byte(consumePipeline("127.0.0.1:1", "g", "max_messages = 1\nmax_retries = 3")))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, catalog.Registry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "brokers 127.0.0.1:1 unreachable after 3 attempts") {
		t.Fatalf("error %v", err)
	}
	t.Logf("failed after %v: %v", time.Since(start), err)
}

// Brokers that go away mid-run: the stage retries, then fails naming them.
func TestBrokerUnavailableMidRun(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	broker := c.ListenAddrs()[0]
	produceN(t, broker, "in", 100, func(i int) string { return fmt.Sprintf(`{"id":%d}`, i) })
	f, _ := flow.Parse("p.toml", []byte(consumePipeline(broker, "g", "max_retries = 3")))
	g, err := flow.Validate(f, catalog.Registry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	deadline := time.Now().Add(30 * time.Second)
	for r.Report()[1].RowsIn < 100 {
		if time.Now().After(deadline) {
			t.Fatal("never read the messages")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable after 3 attempts") || !strings.Contains(err.Error(), broker) {
			t.Fatalf("error %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the stage did not give up")
	}
}

// format = "raw" keeps key, value, headers, topic, partition, offset and
// timestamp; timestamp = "kafka" adds the message time to JSON rows; the
// original function = "kafka" is a source without inputs, a sink with.
func TestRawTimestampAndOriginalSpelling(t *testing.T) {
	broker := cluster(t, map[string]int{"in": 1, "copy": 1})
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: "in"}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if err := w.WriteMessages(context.Background(),
		kafkago.Message{Key: []byte("k1"), Value: []byte(`{"id":1}`), Time: at, Headers: []kafkago.Header{{Key: "h", Value: []byte("v")}}},
		kafkago.Message{Key: []byte("k2"), Value: []byte(`{"id":2}`), Time: at.Add(time.Second)},
	); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// The original spelling: "kafka" reads (no inputs) and writes (inputs).
	runPipeline(t, fmt.Sprintf(`[pipeline]
name = "orig"
[[stages]]
id = "src"
function = "kafka"
[stages.config]
brokers = %q
topic = "in"
max_messages = 2
timestamp = "kafka"
[[stages]]
id = "dst"
function = "kafka"
inputs = ["src"]
[stages.config]
brokers = %q
topic = "copy"
`, broker, broker))
	got := readAll(t, broker, "copy", 2)
	want := []string{`{"kafka_timestamp":"2024-05-01T10:00:00Z","id":1}`, `{"kafka_timestamp":"2024-05-01T10:00:01Z","id":2}`}
	for i, m := range got {
		if string(m.Value) != want[i] {
			t.Errorf("message %d: %s, want %s", i, m.Value, want[i])
		}
	}

	// Raw: one row per message with its metadata.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec, _ := catalog.Registry().Lookup("kafka.consume")
	res, err := flow.RunIsolated(context.Background(), spec, map[string]any{
		"brokers": broker, "topic": "in", "format": "raw", "max_messages": int64(2), "group_id": "raw"}, flow.BuildEnv{Alloc: mem}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	rows := batchRows(res)
	text := func(v any) string {
		switch b := v.(type) {
		case []byte:
			return string(b)
		case json.RawMessage:
			return string(b)
		}
		return fmt.Sprint(v)
	}
	if len(rows) != 2 || text(rows[0]["key"]) != "k1" || text(rows[0]["value"]) != `{"id":1}` || text(rows[0]["partition"]) != "0" ||
		text(rows[1]["offset"]) != "1" || text(rows[0]["headers"]) != `[{"key":"h","value":"v"}]` || text(rows[1]["topic"]) != "in" ||
		text(rows[1]["timestamp"]) != "2024-05-01T10:00:01Z" {
		t.Errorf("raw rows: %v", rows)
	}
}

func batchRows(res *flow.IsolatedResult) []map[string]any {
	var out []map[string]any
	for _, b := range res.Output {
		out = append(out, batch.Rows(b)...)
	}
	return out
}

// failingSink fails on the row whose id is failAt (after writing nothing
// of that batch), so the offsets of that batch must not be committed.
type failingSink struct{ failAt int64 }

func (s failingSink) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	for _, r := range batch.Rows(b) {
		if fmt.Sprint(r["id"]) == fmt.Sprint(s.failAt) {
			return fmt.Errorf("disk full at id %d", s.failAt)
		}
	}
	return nil
}
func (failingSink) Close(context.Context, *flow.Stage) error { return nil }

// Durable: a batch written without error is durable at once.
func (failingSink) Durable(context.Context, *flow.Stage) error { return nil }
func (failingSink) Abort()                                     {}

// Offsets of rows a sink did not write are not committed: after a sink
// fails, the group reads those messages again.
func TestNoCommitWithoutTheSinksAcknowledgement(t *testing.T) {
	broker := cluster(t, map[string]int{"in": 1})
	produceN(t, broker, "in", 1000, func(i int) string { return fmt.Sprintf(`{"id":%d}`, i) })
	reg := catalog.Registry()
	reg.Register(&flow.Spec{Name: "test.failing", Kind: flow.KindSink, Summary: "fails at id 550",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return failingSink{550}, nil }})
	f, err := flow.Parse("p.toml", []byte(fmt.Sprintf(`[[stages]]
id = "in"
function = "kafka.consume"
[stages.config]
brokers = [%q]
topic = "in"
group_id = "g"
batch_size = 100
max_messages = 1000
[[stages]]
id = "out"
function = "test.failing"
inputs = ["in"]
`, broker)))
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
	if err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("run error %v", err)
	}
	// The batch holding id 550 and everything after it are read again by
	// the group (at least ids 550..999); the batches written before it were
	// committed (fewer than all 1000 come back). With full 100-row batches
	// exactly 500 come back.
	again := runPipeline(t, consumePipeline(broker, "g", "timeout_ms = 1500"))
	if n := again.Report()[1].RowsIn; n < 450 || n >= 1000 {
		t.Errorf("the group re-read %d messages, want from the failed batch on (450..999)", n)
	}
}
