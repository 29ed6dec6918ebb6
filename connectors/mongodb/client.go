package mongodb

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// One client per URI, shared by every stage of the process that uses it
// (a client is a connection pool); released when its last stage closes.
var clients = struct {
	sync.Mutex
	m map[string]*sharedClient
}{m: map[string]*sharedClient{}}

type sharedClient struct {
	c    *mongo.Client
	refs int
}

type poolOptions struct {
	maxPool, minPool uint64
	connectTimeout   time.Duration
}

// redact hides the password of a URI for messages.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparsable URI)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	return u.String()
}

// acquire returns the shared client of uri, connecting (and checking the
// server answers) on first use.
func acquire(ctx context.Context, uri string, po poolOptions) (*mongo.Client, error) {
	clients.Lock()
	defer clients.Unlock()
	if sc := clients.m[uri]; sc != nil {
		sc.refs++
		return sc.c, nil
	}
	opts := options.Client().ApplyURI(uri)
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid uri %s: %w", redact(uri), err)
	}
	if po.maxPool > 0 {
		opts.SetMaxPoolSize(po.maxPool)
	}
	if po.minPool > 0 {
		opts.SetMinPoolSize(po.minPool)
	}
	timeout := po.connectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	opts.SetConnectTimeout(timeout).SetServerSelectionTimeout(timeout)
	c, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redact(uri), err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.Ping(pctx, nil); err != nil {
		c.Disconnect(context.Background())
		return nil, fmt.Errorf("cannot reach %s within %v: %w", redact(uri), timeout, err)
	}
	clients.m[uri] = &sharedClient{c: c, refs: 1}
	return c, nil
}

// release drops one user of uri's client, disconnecting after the last.
func release(uri string) {
	clients.Lock()
	defer clients.Unlock()
	sc := clients.m[uri]
	if sc == nil {
		return
	}
	sc.refs--
	if sc.refs == 0 {
		delete(clients.m, uri)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sc.c.Disconnect(ctx)
	}
}
