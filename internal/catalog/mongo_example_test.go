package catalog

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var mongoOnce struct {
	sync.Once
	uri string
	err error
}

// exampleMongo returns the URI of a FerretDB (MongoDB protocol, SQLite
// storage) started once for the package's tests, with the collection the
// MongoDB examples read (shop.orders) reset to its three documents.
func exampleMongo(t *testing.T) string {
	t.Helper()
	mongoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferretdb-examples-")
		if err != nil {
			mongoOnce.err = err
			return
		}
		f, err := ferretdb.New(&ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}, Handler: "sqlite", SQLiteURL: "file:" + dir + "/"})
		if err != nil {
			mongoOnce.err = err
			return
		}
		go f.Run(context.Background()) // lives as long as the test binary
		for i := 0; i < 500 && mongoOnce.uri == ""; i++ {
			time.Sleep(10 * time.Millisecond)
			func() {
				defer func() { recover() }()
				mongoOnce.uri = f.MongoDBURI()
			}()
		}
	})
	if mongoOnce.err != nil || mongoOnce.uri == "" {
		t.Fatalf("ferretdb: %v", mongoOnce.err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(mongoOnce.uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	coll := c.Database("shop").Collection("orders")
	ctx := context.Background()
	if err := coll.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertMany(ctx, []any{
		bson.D{{Key: "id", Value: 1}, {Key: "amount", Value: 50}, {Key: "customer", Value: bson.D{{Key: "name", Value: "cy"}, {Key: "tier", Value: "std"}}}, {Key: "tags", Value: bson.A{"old"}}},
		bson.D{{Key: "id", Value: 2}, {Key: "amount", Value: 120}, {Key: "customer", Value: bson.D{{Key: "name", Value: "bo"}, {Key: "tier", Value: "std"}}}, {Key: "tags", Value: bson.A{}}},
		bson.D{{Key: "id", Value: 3}, {Key: "amount", Value: 250}, {Key: "customer", Value: bson.D{{Key: "name", Value: "ana"}, {Key: "tier", Value: "gold"}}}, {Key: "tags", Value: bson.A{"new", "vip"}}},
	}); err != nil {
		t.Fatal(err)
	}
	return mongoOnce.uri
}
