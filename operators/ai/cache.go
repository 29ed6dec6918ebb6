package ai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
)

// cacheVersion is written in every cache file; files of another version
// are misses.
const cacheVersion = 1

// cacheEntry is one cached answer, stored as <dir>/<k[:2]>/<k>.json.
type cacheEntry struct {
	Version      int    `json:"v"`
	Provider     string `json:"provider"`
	Model        string `json:"model"`
	Text         string `json:"text"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

// cacheKey is the hex SHA-256 of everything that shapes an answer: the
// provider, the model, the system and user prompts (as sent, including the
// JSON instruction), max_tokens, temperature and the response format with
// its schema. The endpoint and the key are not part of it: the same model
// behind another gateway gives the same answer.
func cacheKey(provider string, r *callRequest, schema string) string {
	temp := "default"
	if r.temperature != nil {
		b, _ := json.Marshal(*r.temperature)
		temp = string(b)
	}
	format := "text"
	if r.json {
		format = "json"
	}
	doc, _ := json.Marshal([]any{cacheVersion, provider, r.model, r.system, r.prompt, r.maxTokens, temp, format, schema})
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}

// diskCache is the on-disk answer cache of one stage, with in-flight
// deduplication: a second row asking for a key being fetched waits for
// the first one's outcome instead of making its own call.
type diskCache struct {
	dir string

	mu      sync.Mutex
	flights map[string]*flight
}

type flight struct {
	done chan struct{}
	out  outcome
}

func newDiskCache(dir string) *diskCache {
	return &diskCache{dir: dir, flights: map[string]*flight{}}
}

func (c *diskCache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key+".json")
}

// get reads a cached answer; a missing, unreadable or foreign file is a
// miss.
func (c *diskCache) get(key string) (cacheEntry, bool) {
	data, err := os.ReadFile(c.path(key))
	if err != nil {
		return cacheEntry{}, false
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.Version != cacheVersion {
		return cacheEntry{}, false
	}
	return e, true
}

// put stores an answer atomically (a temporary file renamed into place),
// so a reader never sees half a file.
func (c *diskCache) put(key string, e cacheEntry) error {
	e.Version = cacheVersion
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// do runs fn for key unless a call for the same key is in flight, in
// which case it waits for that call's outcome (shared is then true).
func (c *diskCache) do(ctx context.Context, key string, fn func() outcome) (out outcome, shared bool) {
	c.mu.Lock()
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.out, true
		case <-ctx.Done():
			return outcome{err: ctx.Err()}, true
		}
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
	}()
	f.out = fn()
	return f.out, false
}
