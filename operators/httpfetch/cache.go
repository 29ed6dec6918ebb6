package httpfetch

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
)

// answer is a request's outcome as the stage uses it.
type answer struct {
	status int
	body   []byte
	err    error
}

// cache is an LRU of answers keyed by request (method, URL, templated
// headers, body), with a TTL on the stage clock. A key being fetched is in
// the cache already, pending: a second row asking for it waits for the
// first one's answer instead of sending its own request. Failed answers
// are dropped once delivered to the rows waiting for them, so a later row
// tries again.
type cache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	clock clock.Clock
	ll    *list.List // of *entry, most recent first
	m     map[string]*list.Element

	hits, misses atomic.Int64
}

type entry struct {
	key     string
	done    chan struct{}
	ans     answer
	expires time.Time // zero: never
}

func newCache(size int, ttl time.Duration, clk clock.Clock) *cache {
	return &cache{size: size, ttl: ttl, clock: clk, ll: list.New(), m: map[string]*list.Element{}}
}

// get returns the answer for key, calling fetch when no fresh entry
// exists; hit reports that no request was sent for this call.
func (c *cache) get(ctx context.Context, key string, fetch func() answer) (ans answer, hit bool) {
	c.mu.Lock()
	if el, ok := c.m[key]; ok {
		e := el.Value.(*entry)
		select {
		case <-e.done:
			if !e.expires.IsZero() && !c.clock.Now().Before(e.expires) {
				c.remove(el)
				goto miss
			}
		default: // pending: wait below
		}
		c.ll.MoveToFront(el)
		c.mu.Unlock()
		c.hits.Add(1)
		select {
		case <-e.done:
			return e.ans, true
		case <-ctx.Done():
			return answer{err: ctx.Err()}, true
		}
	}
miss:
	e := &entry{key: key, done: make(chan struct{})}
	el := c.ll.PushFront(e)
	c.m[key] = el
	for c.ll.Len() > c.size {
		c.remove(c.ll.Back())
	}
	c.mu.Unlock()
	c.misses.Add(1)

	e.ans = fetch()
	if c.ttl > 0 {
		e.expires = c.clock.Now().Add(c.ttl)
	}
	close(e.done)
	if e.ans.err != nil {
		c.mu.Lock()
		if cur, ok := c.m[key]; ok && cur == el {
			c.remove(el)
		}
		c.mu.Unlock()
	}
	return e.ans, false
}

func (c *cache) remove(el *list.Element) {
	c.ll.Remove(el)
	delete(c.m, el.Value.(*entry).key)
}
