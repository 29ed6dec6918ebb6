package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaCluster starts an in-process Kafka-protocol broker; the conveyor
// children of the tests connect to it over loopback.
func kafkaCluster(t *testing.T, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topics...),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// feed writes messages {"id":i,...} for i in [from, to) to topic, spread
// over d.
func feed(t *testing.T, broker, topic string, from, to int, d time.Duration) {
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: topic, Balancer: &kafkago.RoundRobin{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	const chunk = 100
	steps := max((to-from)/chunk, 1)
	pause := d / time.Duration(steps)
	for i := from; i < to; i += chunk {
		var msgs []kafkago.Message
		for j := i; j < min(i+chunk, to); j++ {
			msgs = append(msgs, kafkago.Message{Value: []byte(fmt.Sprintf(`{"id":%d,"amount":%d,"customer":"c%d"}`, j, 100+j%50, j%10))})
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(pause)
	}
}

// outputs collects the messages of topic out: how many times each id was
// seen, and by which worker.
type outputs struct {
	mu      sync.Mutex
	seen    map[int]int
	workers map[string]int
	total   int
}

func collect(t *testing.T, broker, topic string) (*outputs, func()) {
	o := &outputs{seen: map[int]int{}, workers: map[string]int{}}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, GroupID: "collector", GroupTopics: []string{topic},
		StartOffset: kafkago.FirstOffset, MaxWait: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			var row struct {
				ID     int    `json:"id"`
				Worker string `json:"worker"`
			}
			if err := json.Unmarshal(m.Value, &row); err != nil {
				t.Errorf("output %s: %v", m.Value, err)
				continue
			}
			o.mu.Lock()
			o.seen[row.ID]++
			o.workers[row.Worker]++
			o.total++
			o.mu.Unlock()
		}
	}()
	return o, func() { cancel(); <-done; r.Close() }
}

func (o *outputs) distinct() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

func (o *outputs) waitDistinct(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for o.distinct() < n {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d distinct outputs, have %d", n, o.distinct())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func kafkaPipeline(broker, in, worker string) string {
	return fmt.Sprintf(`[pipeline]
name = "k"
[[stages]]
id = "in"
function = "kafka.consume"
[stages.config]
brokers = %q
topic = %q
group_id = "workers"
batch_size = 200
linger = "20ms"
session_timeout = "2s"
retry_backoff = "200ms"
[[stages]]
id = "tag"
function = "map.apply"
inputs = ["in"]
[stages.config.columns]
worker = "'%s'"
[[stages]]
id = "out"
function = "kafka.produce"
inputs = ["tag"]
[stages.config]
brokers = %q
topic = "out"
`, broker, in, worker, broker)
}

func startStream(t *testing.T, dir, file string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "stream", "--log-level", "warn", file)
	cmd.Dir = dir
	cmd.Stderr = &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func stopStream(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("stream exit: %v\n%s", err, cmd.Stderr)
	}
}

// SIGKILL a consuming process mid-run, restart it: every input message
// reaches the output at least once (the duplicates are what the killed
// process wrote after its last commit).
func TestKafkaKillAndRestartLosesNothing(t *testing.T) {
	const n = 20000
	broker := kafkaCluster(t, "in", "out")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "k.toml"), kafkaPipeline(broker, "in", "A"))
	out, stop := collect(t, broker, "out")
	defer stop()
	feed(t, broker, "in", 0, n, 0) // a backlog: the kill comes mid-run

	first := startStream(t, dir, "k.toml")
	out.waitDistinct(t, 1000, 60*time.Second)
	first.Process.Kill() // SIGKILL: no drain, no commit of what is in flight
	first.Wait()
	killedAt := out.distinct()
	if killedAt >= n {
		t.Fatalf("the first process finished before it was killed (%d outputs)", killedAt)
	}

	second := startStream(t, dir, "k.toml")
	out.waitDistinct(t, n, 90*time.Second)
	stopStream(t, second)

	out.mu.Lock()
	defer out.mu.Unlock()
	for i := range n {
		if out.seen[i] == 0 {
			t.Fatalf("message %d never reached the output", i)
		}
	}
	t.Logf("%d messages; killed after %d distinct outputs; %d outputs in all, %d duplicates", n, killedAt, out.total, out.total-n)
}

// Two processes in one group over a 4-partition topic: both receive work,
// and the union of their outputs is the whole input.
func TestKafkaTwoProcessesShareTheGroup(t *testing.T) {
	const n = 8000
	broker := kafkaCluster(t, "in", "out")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.toml"), kafkaPipeline(broker, "in", "A"))
	writeFile(t, filepath.Join(dir, "b.toml"), kafkaPipeline(broker, "in", "B"))
	out, stop := collect(t, broker, "out")
	defer stop()
	a := startStream(t, dir, "a.toml")
	b := startStream(t, dir, "b.toml")
	feed(t, broker, "in", 0, n, 4*time.Second)
	out.waitDistinct(t, n, 90*time.Second)
	stopStream(t, a)
	stopStream(t, b)
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.workers["A"] == 0 || out.workers["B"] == 0 {
		t.Errorf("work split %v: both processes must receive partitions", out.workers)
	}
	for i := range n {
		if out.seen[i] == 0 {
			t.Fatalf("message %d missing from the union of the outputs", i)
		}
	}
	t.Logf("outputs by process: %v (%d duplicates)", out.workers, out.total-n)
}

// `conveyor dev kafka` serves the Kafka protocol on 127.0.0.1: a topic it
// was told to create takes a message and gives it back.
func TestDevKafka(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(binary, "dev", "kafka", "--port", strconv.Itoa(port), "--topic", "events:2")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, fmt.Sprintf("listening on 127.0.0.1:%d", port)) {
		t.Fatalf("banner %q, %v", line, err)
	}
	broker := fmt.Sprintf("127.0.0.1:%d", port)
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: "events"}
	if err := w.WriteMessages(context.Background(), kafkago.Message{Value: []byte(`{"id":1}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := kafkago.DialLeader(ctx, "tcp", broker, "events", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions("events")
	if err != nil || len(parts) != 2 {
		t.Fatalf("partitions %v, %v", parts, err)
	}
}
