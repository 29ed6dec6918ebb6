package kafka

import (
	"context"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/conveyor-etl/conveyor/flow"
)

// committer commits the offsets of the micro-batches every sink
// acknowledged, in the order they were read: a batch's offsets are
// committed once it and every batch before it are acknowledged (the
// contiguous prefix), so a commit never covers a message still in flight.
type committer struct {
	reader *kafkago.Reader
	st     *flow.Stage

	mu      sync.Mutex
	next    uint64 // id of the next batch added
	base    uint64 // id of pending[0]
	pending []*pendingBatch
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	commits int
	failed  int
}

type pendingBatch struct {
	last map[partitionKey]kafkago.Message // last message per partition
	done bool
}

type partitionKey struct {
	topic     string
	partition int
}

func newCommitter(r *kafkago.Reader, st *flow.Stage) *committer {
	c := &committer{reader: r, st: st, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// add registers a micro-batch read from msgs; it returns its id.
func (c *committer) add(msgs []kafkago.Message) uint64 {
	pb := &pendingBatch{last: map[partitionKey]kafkago.Message{}}
	for _, m := range msgs {
		k := partitionKey{m.Topic, m.Partition}
		if prev, ok := pb.last[k]; !ok || m.Offset > prev.Offset {
			pb.last[k] = m
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	c.pending = append(c.pending, pb)
	return id
}

// done marks batch id acknowledged by every sink.
func (c *committer) done(id uint64) {
	c.mu.Lock()
	if id >= c.base && int(id-c.base) < len(c.pending) {
		c.pending[id-c.base].done = true
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// ready takes the acknowledged prefix.
func (c *committer) ready() []kafkago.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := map[partitionKey]kafkago.Message{}
	n := 0
	for n < len(c.pending) && c.pending[n].done {
		for k, m := range c.pending[n].last {
			if prev, ok := last[k]; !ok || m.Offset > prev.Offset {
				last[k] = m
			}
		}
		n++
	}
	c.pending = c.pending[n:]
	c.base += uint64(n)
	out := make([]kafkago.Message, 0, len(last))
	for _, m := range last {
		out = append(out, m)
	}
	return out
}

func (c *committer) commit() {
	msgs := c.ready()
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.reader.CommitMessages(ctx, msgs...); err != nil {
		// After a rebalance the partitions may belong to another member,
		// which reads from the last commit: at-least-once holds, with
		// duplicates.
		c.failed++
		c.st.Logger.Warn("kafka.consume: offset commit failed; the messages will be read again", "stage", c.st.ID, "error", err)
		return
	}
	c.commits++
}

func (c *committer) loop() {
	defer close(c.stopped)
	for {
		select {
		case <-c.wake:
			c.commit()
		case <-c.stop:
			c.commit()
			return
		}
	}
}

// finish runs after the whole pipeline ended: the last acknowledgements
// (sinks that are durable at Close) are committed, then the reader leaves
// the group.
func (c *committer) finish() {
	close(c.stop)
	<-c.stopped
	c.mu.Lock()
	left := len(c.pending)
	c.mu.Unlock()
	if left > 0 {
		c.st.Logger.Info("kafka.consume: batches not acknowledged by every sink are not committed; they will be read again", "stage", c.st.ID, "batches", left)
	}
	c.reader.Close()
}
