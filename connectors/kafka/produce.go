package kafka

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/conveyor-etl/conveyor/batch"
	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/flow"
)

type producer struct {
	brokers []string
	topic   string
	keyCol  string
	format  string
	headers []string
	writer  *kafkago.Writer
	retries int
	backoff time.Duration
	checked bool
}

func newProducer(cfg flow.Config, env flow.BuildEnv) (*producer, error) {
	p := &producer{brokers: brokerList(cfg), topic: cfg.Str("topic"), keyCol: cfg.Str("key_field"), format: cfg.Str("format"),
		headers: cfg.Strings("headers"), retries: max(cfg.Int("max_retries"), 1), backoff: cfg.Duration("retry_backoff")}
	if p.backoff <= 0 {
		p.backoff = time.Second
	}
	if p.format == "" {
		p.format = "json"
	}
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(p.brokers...),
		Topic:                  p.topic,
		Balancer:               &kafkago.Hash{},
		BatchSize:              max(cfg.Int("batch_size"), 1),
		BatchTimeout:           cfg.Duration("linger"),
		MaxAttempts:            p.retries,
		WriteBackoffMin:        p.backoff,
		WriteBackoffMax:        p.backoff * 8,
		AllowAutoTopicCreation: true,
	}
	if w.BatchTimeout <= 0 {
		w.BatchTimeout = 10 * time.Millisecond
	}
	switch cfg.Str("acks") {
	case "none", "0":
		w.RequiredAcks = kafkago.RequireNone
	case "one", "1":
		w.RequiredAcks = kafkago.RequireOne
	default:
		w.RequiredAcks = kafkago.RequireAll
	}
	switch cfg.Str("compression") {
	case "gzip":
		w.Compression = compress.Gzip
	case "snappy":
		w.Compression = compress.Snappy
	case "lz4":
		w.Compression = compress.Lz4
	case "zstd":
		w.Compression = compress.Zstd
	}
	p.writer = w
	return p, nil
}

// Write sends every row of b as a message and returns once the brokers
// acknowledged them (acks), so a barrier after it is acknowledged at once.
func (p *producer) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if !p.checked {
		if err := waitForBrokers(ctx, st, p.brokers, p.retries, p.backoff, "kafka.produce"); err != nil {
			return err
		}
		p.checked = true
	}
	msgs, err := p.messages(b)
	if err != nil {
		return err
	}
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("kafka.produce: topic %q on %s: %w", p.topic, strings.Join(p.brokers, ","), err)
	}
	return nil
}

func (p *producer) messages(b arrow.RecordBatch) ([]kafkago.Message, error) {
	n := int(b.NumRows())
	msgs := make([]kafkago.Message, n)
	s := b.Schema()
	col := func(name, key string) (arrow.Array, error) {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("kafka.produce: no column %q in the input", name)}
		}
		return b.Column(idx[0]), nil
	}
	switch p.format {
	case "raw":
		v, err := col("value", "format")
		if err != nil {
			return nil, err
		}
		for i := range n {
			if !v.IsNull(i) {
				msgs[i].Value = bytesOf(v, i)
			}
		}
	case "csv":
		var sb strings.Builder
		enc := csvconn.NewEncoder(&sb, csvconn.WriteOptions{Delimiter: ','})
		for i := range n {
			sb.Reset()
			row := b.NewSlice(int64(i), int64(i+1))
			err := enc.Write(row)
			row.Release()
			if err == nil {
				err = enc.Flush()
			}
			if err != nil {
				return nil, err
			}
			msgs[i].Value = []byte(strings.TrimRight(sb.String(), "\n"))
		}
	default:
		var buf []byte
		for i := range n {
			buf = batch.AppendRowJSON(buf[:0], b, i)
			msgs[i].Value = append([]byte(nil), buf...)
		}
	}
	if p.keyCol != "" {
		k, err := col(p.keyCol, "key_field")
		if err != nil {
			return nil, err
		}
		for i := range n {
			if !k.IsNull(i) {
				msgs[i].Key = bytesOf(k, i)
			}
		}
	}
	for _, h := range p.headers {
		c, err := col(h, "headers")
		if err != nil {
			return nil, err
		}
		for i := range n {
			if !c.IsNull(i) {
				msgs[i].Headers = append(msgs[i].Headers, kafkago.Header{Key: h, Value: bytesOf(c, i)})
			}
		}
	}
	return msgs, nil
}

// bytesOf is a value as message bytes: binary as it is, strings as their
// text, other types as display text (numbers, RFC 3339 timestamps).
func bytesOf(a arrow.Array, i int) []byte {
	switch x := a.(type) {
	case *array.Binary:
		return append([]byte(nil), x.Value(i)...)
	case *array.String:
		return []byte(x.Value(i))
	}
	return []byte(batch.FormatValue(a, i))
}

// Durable: Write returns after the brokers' acknowledgement.
func (p *producer) Durable(context.Context, *flow.Stage) error { return nil }

func (p *producer) Close(context.Context, *flow.Stage) error { return p.writer.Close() }

func (p *producer) Abort() { p.writer.Close() }
