package kafka

import (
	"fmt"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/connectors/internal/linesource"
	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds kafka.consume and kafka.produce, and the original spelling
// function = "kafka" (a source without inputs, a sink with them).
func Register(r *flow.Registry) {
	r.Register(ConsumeSpec())
	r.Register(ProduceSpec())
	r.AliasByInputs("kafka", "kafka.consume", "kafka.produce")
}

func brokerList(cfg flow.Config) []string {
	var out []string
	for _, b := range cfg.Strings("brokers") {
		for _, p := range strings.Split(b, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

var connParams = []flow.Param{
	{Name: "brokers", Type: flow.TypeStringOrList, Default: []any{"127.0.0.1:9092"}, Aliases: []string{"bootstrap_servers"},
		Doc: "Broker addresses (host:port), a list or a comma-separated string."},
	{Name: "max_retries", Type: flow.TypeInt, Default: int64(5), Min: flow.F(1),
		Doc: "Attempts to reach the brokers (at start, and while they stay unreachable mid-run) before the stage fails with an error naming them."},
	{Name: "retry_backoff", Type: flow.TypeDuration, Default: "1s",
		Doc: "First wait between attempts; it doubles (up to 30 s)."},
}

// ConsumeSpec is the spec of kafka.consume.
func ConsumeSpec() *flow.Spec {
	params := append([]flow.Param{
		{Name: "topic", Type: flow.TypeStringOrList, Aliases: []string{"topics"}, Required: true, Doc: "Topic, or a list of topics, to read."},
		{Name: "group_id", Type: flow.TypeString,
			Doc: "Consumer group: processes with the same group_id split the partitions and continue from the group's commits. Default conveyor-<pipeline>-<stage>."},
		{Name: "start", Type: flow.TypeString, Default: "earliest", Allowed: []string{"earliest", "latest"}, Aliases: []string{"auto_offset_reset"},
			Doc: "Where a group with no commit starts."},
		{Name: "timestamp", Type: flow.TypeString,
			Doc: "\"kafka\": add the message time as a kafka_timestamp column (jsonl format; raw has timestamp) for windows' time_column. A column name documents that the messages carry their own event time (use it as the windows' time_column)."},
		{Name: "max_messages", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Stop after this many messages (0: no limit)."},
		{Name: "timeout_ms", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Stop when no message arrived for this long (0: never)."},
		{Name: "session_timeout", Type: flow.TypeDuration, Default: "10s",
			Doc: "Group session timeout: a member silent this long (a killed process) loses its partitions to the others."},
	}, connParams...)
	for _, p := range linesource.Params() {
		if p.Name == "format" {
			p.Allowed = []string{"json", "jsonl", "ndjson", "csv", "raw"}
			p.Default = "json"
			p.Doc = "json (one JSON object per message), csv (one CSV record per message; schema needed or has_headers = false), raw (key, value, headers, topic, partition, offset, timestamp)."
		}
		params = append(params, p)
	}
	return &flow.Spec{
		Name: "kafka.consume", Kind: flow.KindSource, Aliases: []string{"source.kafka"},
		Summary: "Read a Kafka topic in a consumer group, with at-least-once delivery to every sink.",
		Description: `kafka.consume reads the topic(s) as a member of group_id, in micro-batches
(batch_size messages or linger). Offsets are committed only once every sink
downstream has durably written the rows read from them: a barrier follows each
micro-batch through the pipeline and the offsets are committed when every sink
acknowledged it (a window stage passes it on only when the windows holding those
rows were emitted; a file sink only when it closed). A crash therefore never loses
a message: what was not committed is read again after a restart, possibly twice.

Several processes with the same group_id split the partitions; when one stops, the
others take its partitions over from its last commit (after session_timeout for a
process that died without leaving).

Without max_messages or timeout_ms the source never ends (conveyor stream). Brokers
unreachable at the start or for max_retries health checks in a row make the stage
fail with an error naming them.`,
		Tags:      []string{"kafka", "stream"},
		Params:    params,
		Unbounded: func(cfg flow.Config) bool { return cfg.Int("max_messages") == 0 && cfg.Int("timeout_ms") == 0 },
		Check: func(cfg flow.Config) []*flow.ConfigError {
			if cfg.Str("timestamp") == "kafka" && cfg.Str("format") == "csv" {
				return []*flow.ConfigError{{Key: "config.timestamp", Message: `timestamp = "kafka" needs format json (or raw, which has a timestamp column)`}}
			}
			return nil
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			lc := cfg
			if f := cfg.Str("format"); f == "json" || f == "" {
				lc = flow.Config{}
				for k, v := range cfg {
					lc[k] = v
				}
				lc["format"] = "jsonl"
			}
			lines, err := linesource.ParseConfig(lc, env)
			if err != nil {
				return nil, err
			}
			c := &consumer{brokers: brokerList(cfg), topics: cfg.Strings("topic"), group: cfg.Str("group_id"),
				startFirst: cfg.Str("start") != "latest", format: lines.Format, lines: lines,
				kafkaTime: cfg.Str("timestamp") == "kafka", maxMessages: int64(cfg.Int("max_messages")),
				idleTimeout: time.Duration(cfg.Int("timeout_ms")) * time.Millisecond,
				retries:     max(cfg.Int("max_retries"), 1), backoff: cfg.Duration("retry_backoff"), session: cfg.Duration("session_timeout")}
			if c.backoff <= 0 {
				c.backoff = time.Second
			}
			if c.session <= 0 {
				c.session = 10 * time.Second
			}
			if c.group == "" {
				c.group = fmt.Sprintf("conveyor-%s-%s", env.Pipeline, env.StageID)
			}
			if len(c.brokers) == 0 {
				return nil, &flow.ParamError{Key: "brokers", Err: fmt.Errorf("kafka.consume: no broker")}
			}
			return c, nil
		},
		Examples: []flow.Example{{
			Title:  "Read JSON events in a consumer group (needs a broker: conveyor dev kafka)",
			Config: "brokers = [\"127.0.0.1:9092\"]\ntopic = \"events\"\ngroup_id = \"etl\"\nformat = \"json\"\nmax_messages = 3",
			Output: "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n",
		}},
	}
}

// ProduceSpec is the spec of kafka.produce.
func ProduceSpec() *flow.Spec {
	params := append([]flow.Param{
		{Name: "topic", Type: flow.TypeString, Required: true, Doc: "Topic to write (created when the broker allows it)."},
		{Name: "key_field", Type: flow.TypeString, Aliases: []string{"key"}, Doc: "Column whose value is the message key (partitioning by hash of the key)."},
		{Name: "format", Type: flow.TypeString, Default: "json", Allowed: []string{"json", "csv", "raw"},
			Doc: "json: each row as a JSON object; csv: each row as a CSV record; raw: the value column's bytes."},
		{Name: "headers", Type: flow.TypeStringOrList, Doc: "Columns sent as message headers (name = column name)."},
		{Name: "compression", Type: flow.TypeString, Default: "none", Allowed: []string{"none", "gzip", "snappy", "lz4", "zstd"}, Doc: "Message compression."},
		{Name: "acks", Type: flow.TypeString, Default: "all", Allowed: []string{"all", "one", "none", "-1", "1", "0"},
			Doc: "Acknowledgement required from the brokers before a write counts as done."},
		{Name: "batch_size", Type: flow.TypeInt, Default: int64(10000), Min: flow.F(1), Doc: "Most messages per produce request (per partition)."},
		{Name: "linger", Type: flow.TypeDuration, Default: "1ms", Doc: "Longest wait for a produce request to fill (rows arrive a batch at a time, so requests are mostly full already)."},
	}, connParams...)
	return &flow.Spec{
		Name: "kafka.produce", Kind: flow.KindSink, Aliases: []string{"sink.kafka"},
		Summary: "Write rows to a Kafka topic (synchronous, acknowledged writes).",
		Description: `kafka.produce sends each row as a message and returns from a batch only when the
brokers acknowledged it (acks), so the rows before a barrier are durable when it
arrives: it acknowledges at once, and an upstream kafka.consume commits. Broker
errors are retried (max_retries, retry_backoff), then fail the batch under the
stage's error strategy.`,
		Tags:   []string{"kafka", "stream"},
		Params: params,
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newProducer(cfg, env)
		},
		Examples: []flow.Example{{
			Title:  "Write rows as JSON keyed by user (needs a broker: conveyor dev kafka)",
			Config: "brokers = [\"127.0.0.1:9092\"]\ntopic = \"out\"\nkey_field = \"user\"",
			Input:  "{\"user\":\"ann\",\"n\":1}\n",
		}},
	}
}
