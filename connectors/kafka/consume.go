package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/benbjohnson/clock"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/conveyor-etl/conveyor/connectors/internal/linesource"
	"github.com/conveyor-etl/conveyor/flow"
)

// rawSchema is the schema of format = "raw".
var rawSchema = arrow.NewSchema([]arrow.Field{
	{Name: "key", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "headers", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String), Nullable: true},
	{Name: "topic", Type: arrow.BinaryTypes.String},
	{Name: "partition", Type: arrow.PrimitiveTypes.Int32},
	{Name: "offset", Type: arrow.PrimitiveTypes.Int64},
	{Name: "timestamp", Type: arrow.FixedWidthTypes.Timestamp_us},
}, nil)

type consumer struct {
	brokers     []string
	topics      []string
	group       string
	startFirst  bool
	format      string
	lines       linesource.Config
	kafkaTime   bool
	maxMessages int64
	idleTimeout time.Duration
	retries     int
	backoff     time.Duration
	session     time.Duration
}

// Run reads messages until the bounds are reached, the pipeline drains or
// fails. Offsets are committed when the rows read from them are
// acknowledged by every sink.
func (c *consumer) Run(ctx context.Context, st *flow.Stage) error {
	if err := c.waitForBrokers(ctx, st); err != nil {
		return err
	}
	rc := kafkago.ReaderConfig{
		Brokers:           c.brokers,
		GroupID:           c.group,
		GroupTopics:       c.topics,
		StartOffset:       kafkago.LastOffset,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           100 * time.Millisecond,
		CommitInterval:    0,
		SessionTimeout:    c.session,
		RebalanceTimeout:  c.session,
		HeartbeatInterval: c.session / 5,
		JoinGroupBackoff:  c.backoff,
		ReadBackoffMin:    c.backoff / 2,
		ReadBackoffMax:    c.backoff * 4,
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			st.Logger.Debug("kafka: " + fmt.Sprintf(msg, args...))
		}),
	}
	if c.startFirst {
		rc.StartOffset = kafkago.FirstOffset
	}
	reader := kafkago.NewReader(rc)
	cm := newCommitter(reader, st)
	st.AfterRun(cm.finish)

	msgs := make(chan kafkago.Message, 4096)
	fetchErr := make(chan error, 1)
	fctx, stopFetch := context.WithCancel(ctx)
	var fetching sync.WaitGroup
	fetching.Add(1)
	go func() {
		defer fetching.Done()
		for {
			m, err := reader.FetchMessage(fctx)
			if err != nil {
				if fctx.Err() == nil {
					fetchErr <- err
				}
				return
			}
			select {
			case msgs <- m:
			case <-fctx.Done():
				return
			}
		}
	}()
	defer func() {
		stopFetch()
		fetching.Wait()
	}()

	parser, err := c.lines.NewParser(st, "kafka:"+strings.Join(c.topics, ","))
	if err != nil {
		return err
	}
	defer parser.Release()
	mb := flow.NewMicroBatcher(st.Clock, c.lines.BatchSize, c.lines.Linger)
	defer mb.Stop()
	var held []kafkago.Message
	var read int64

	// Parsing and emitting run on their own goroutine, so that fetching
	// and cutting the next micro-batch overlap with parsing this one. It
	// is the only goroutine that emits on st.
	type work struct {
		data []byte
		msgs []kafkago.Message
	}
	works := make(chan work, 2)
	workErr := make(chan error, 1)
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		for w := range works {
			var err error
			if c.format == "raw" {
				err = emitRaw(ctx, st, w.msgs)
			} else {
				err = parser.Parse(ctx, w.data)
			}
			if err == nil {
				id := cm.add(w.msgs)
				err = st.EmitBarrier(ctx, func() { cm.done(id) })
			}
			if err != nil {
				workErr <- err
				for range works {
				}
				return
			}
		}
	}()
	closed := false
	finishWork := func() error {
		if !closed {
			closed = true
			close(works)
		}
		<-workDone
		select {
		case err := <-workErr:
			return err
		default:
			return nil
		}
	}
	defer finishWork()

	cut := func() error {
		if len(held) == 0 {
			return nil
		}
		data, _ := mb.Take()
		w := work{data: append([]byte(nil), data...), msgs: held}
		held = nil
		select {
		case works <- w:
			return nil
		case err := <-workErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// end cuts what is held and waits for the parse goroutine.
	end := func() error {
		if err := cut(); err != nil {
			return err
		}
		return finishWork()
	}

	var idle *clock.Timer
	var idleC <-chan time.Time
	resetIdle := func() {
		if c.idleTimeout <= 0 {
			return
		}
		if idle != nil {
			idle.Stop()
		}
		idle = st.Clock.Timer(c.idleTimeout)
		idleC = idle.C
	}
	resetIdle()
	health := st.Clock.Ticker(c.backoff)
	defer health.Stop()
	var lastMsg time.Time = st.Clock.Now()
	failures := 0

	for {
		select {
		case m := <-msgs:
			lastMsg = st.Clock.Now()
			failures = 0
			resetIdle()
			// Take what else is already waiting without going back to the
			// big select: one cheap receive per message.
			for more := true; more; {
				st.Metrics().BytesRead.Add(int64(len(m.Value)))
				held = append(held, m)
				value := m.Value
				if c.format == "jsonl" {
					value = compactJSON(value)
					if c.kafkaTime {
						value = withTimestamp(value, m.Time)
					}
				}
				full := mb.Add(value)
				read++
				if c.maxMessages > 0 && read >= c.maxMessages {
					return end()
				}
				if full {
					if err := cut(); err != nil {
						return err
					}
				}
				select {
				case m = <-msgs:
				default:
					more = false
				}
			}
		case <-mb.Due():
			if err := cut(); err != nil {
				return err
			}
		case <-idleC:
			st.Logger.Info("kafka.consume: no message within timeout_ms; ending", "stage", st.ID, "read", read)
			return end()
		case <-health.C:
			// The reader retries broken connections by itself, quietly:
			// while no message comes, check that a broker answers, and
			// fail after the configured number of failed checks.
			if st.Clock.Since(lastMsg) < c.backoff {
				continue
			}
			if err := dialAny(ctx, c.brokers, c.backoff); err != nil {
				failures++
				st.Logger.Warn("kafka.consume: brokers unreachable", "stage", st.ID, "attempt", failures, "of", c.retries, "error", err)
				if failures >= c.retries {
					if cerr := end(); cerr != nil {
						return cerr
					}
					return fmt.Errorf("kafka.consume: brokers %s unreachable after %d attempts: %w", strings.Join(c.brokers, ","), failures, err)
				}
			} else {
				failures = 0
			}
		case err := <-fetchErr:
			if cerr := end(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("kafka.consume: %w", err)
		case err := <-workErr:
			return err
		case <-st.Draining():
			return end()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitForBrokers dials the brokers until one answers, with backoff, up to
// the configured number of attempts.
func (c *consumer) waitForBrokers(ctx context.Context, st *flow.Stage) error {
	return waitForBrokers(ctx, st, c.brokers, c.retries, c.backoff, "kafka.consume")
}

func waitForBrokers(ctx context.Context, st *flow.Stage, brokers []string, retries int, backoff time.Duration, stage string) error {
	delay := backoff
	var err error
	for attempt := 1; attempt <= retries; attempt++ {
		if err = dialAny(ctx, brokers, backoff); err == nil {
			return nil
		}
		st.Logger.Warn(stage+": brokers unreachable, retrying", "stage", st.ID, "attempt", attempt, "of", retries, "in", delay, "error", err)
		if attempt == retries {
			break
		}
		t := st.Clock.Timer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(delay*2, 30*time.Second)
	}
	return fmt.Errorf("%s: brokers %s unreachable after %d attempts: %w", stage, strings.Join(brokers, ","), retries, err)
}

// dialAny reports whether one of the brokers accepts a Kafka connection.
func dialAny(ctx context.Context, brokers []string, timeout time.Duration) error {
	var last error
	for _, b := range brokers {
		dctx, cancel := context.WithTimeout(ctx, max(timeout, time.Second))
		conn, err := (&kafkago.Dialer{Timeout: max(timeout, time.Second)}).DialContext(dctx, "tcp", b)
		cancel()
		if err == nil {
			_, err = conn.Brokers()
			conn.Close()
			if err == nil {
				return nil
			}
		}
		last = err
	}
	var op *net.OpError
	if errors.As(last, &op) {
		return op
	}
	return last
}

// compactJSON makes a message value one line (values may be pretty JSON).
func compactJSON(v []byte) []byte {
	for _, b := range v {
		if b == '\n' || b == '\r' {
			out := make([]byte, 0, len(v))
			for _, c := range v {
				if c != '\n' && c != '\r' {
					out = append(out, c)
				}
			}
			return out
		}
	}
	return v
}

// emitRaw emits the messages as rows of rawSchema.
func emitRaw(ctx context.Context, st *flow.Stage, msgs []kafkago.Message) error {
	b := array.NewRecordBuilder(st.Alloc, rawSchema)
	defer b.Release()
	key := b.Field(0).(*array.BinaryBuilder)
	val := b.Field(1).(*array.BinaryBuilder)
	hdr := b.Field(2).(*array.MapBuilder)
	topic := b.Field(3).(*array.StringBuilder)
	part := b.Field(4).(*array.Int32Builder)
	off := b.Field(5).(*array.Int64Builder)
	ts := b.Field(6).(*array.TimestampBuilder)
	hk := hdr.KeyBuilder().(*array.StringBuilder)
	hv := hdr.ItemBuilder().(*array.StringBuilder)
	for _, m := range msgs {
		if m.Key == nil {
			key.AppendNull()
		} else {
			key.Append(m.Key)
		}
		if m.Value == nil {
			val.AppendNull()
		} else {
			val.Append(m.Value)
		}
		hdr.Append(true)
		for _, h := range m.Headers {
			hk.Append(h.Key)
			hv.Append(string(h.Value))
		}
		topic.Append(m.Topic)
		part.Append(int32(m.Partition))
		off.Append(m.Offset)
		ts.Append(arrow.Timestamp(m.Time.UnixMicro()))
	}
	return st.Emit(ctx, b.NewRecordBatch())
}

// withTimestamp adds the message time to a JSON object as the field
// kafka_timestamp (RFC 3339, µs), for timestamp = "kafka".
func withTimestamp(v []byte, t time.Time) []byte {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	if i == len(v) || v[i] != '{' {
		return v // not an object: rejected by the parser as it is
	}
	out := make([]byte, 0, len(v)+48)
	out = append(out, `{"kafka_timestamp":"`...)
	out = t.UTC().AppendFormat(out, "2006-01-02T15:04:05.999999Z07:00")
	out = append(out, '"')
	rest := v[i+1:]
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
		j++
	}
	if j < len(rest) && rest[j] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}
