package bench

// Kafka throughput on an in-process Kafka-protocol broker (kfake):
// Conveyor's kafka.consume → filter.apply → kafka.produce against a bare
// kafka-go consumer loop reading the same topic (FetchMessage until every
// message is read, nothing else). Both read in a consumer group from the
// first offset.
//
//	go test ./bench -run none -bench Kafka -benchtime 1x      # KAFKA_MESSAGES (default 200000)

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/conveyor-etl/conveyor/internal/catalog"
)

func kafkaFixture(b *testing.B, n int) string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "in", "out"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: "in", Balancer: &kafkago.RoundRobin{}, BatchSize: 5000, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafkago.Message, 0, 5000)
	for i := range n {
		msgs = append(msgs, kafkago.Message{Value: fmt.Appendf(nil, `{"id":%d,"amount":%d,"user":"u%d"}`, i, i%1000, i%97)})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	return broker
}

func BenchmarkKafka(b *testing.B) {
	n := envInt("KAFKA_MESSAGES", 200_000)
	broker := kafkaFixture(b, n)
	var bare, conv float64
	b.Run("bare_kafka-go_loop", func(b *testing.B) {
		for i := range b.N {
			r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, GroupID: "bare" + strconv.Itoa(i), GroupTopics: []string{"in"},
				StartOffset: kafkago.FirstOffset, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
			start := time.Now()
			for range n {
				if _, err := r.FetchMessage(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			bare = float64(n) / time.Since(start).Seconds()
			r.Close()
		}
		b.ReportMetric(bare, "msgs/s")
	})
	b.Run("conveyor_consume_filter_produce", func(b *testing.B) {
		reg := catalog.Registry()
		for i := range b.N {
			src := fmt.Sprintf(`[pipeline]
name = "kafka_bench"
[[stages]]
id = "in"
function = "kafka.consume"
[stages.config]
brokers = %q
topic = "in"
group_id = "conveyor%d"
max_messages = %d
batch_size = 10000
format = "raw"
[[stages]]
id = "keep"
function = "filter.apply"
inputs = ["in"]
[stages.config]
expr = "offset >= 0"
[[stages]]
id = "out"
function = "discard.write"
inputs = ["keep"]
`, broker, i, n)
			start := time.Now()
			runPipelineText(b, reg, "kafka.toml", []byte(src))
			conv = float64(n) / time.Since(start).Seconds()
		}
		b.ReportMetric(conv, "msgs/s")
		if bare > 0 {
			b.ReportMetric(conv/bare, "x_bare_loop")
		}
	})
}
