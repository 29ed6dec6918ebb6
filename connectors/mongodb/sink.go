package mongodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// writer is every MongoDB sink: each row becomes one write model
// (insert, update, replace or delete), sent in bulk writes of batch_size.
type writer struct {
	op                      string
	uri                     string
	pool                    poolOptions
	db, coll, query, update *template
	upsert, ordered         bool
	batchSize               int
	opField                 string

	client *mongo.Client
	stats  struct{ inserted, matched, modified, upserted, deleted, failed int64 }
}

func (w *writer) connect(ctx context.Context) error {
	if w.client != nil {
		return nil
	}
	c, err := acquire(ctx, w.uri, w.pool)
	if err != nil {
		return fmt.Errorf("%s: %w", w.op, err)
	}
	w.client = c
	return nil
}

// Write turns the rows of b into write models and sends them; a document
// the server refuses goes to the dead-letter output with the server's
// error, and the others are written (ordered = false).
func (w *writer) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if err := w.connect(ctx); err != nil {
		return err
	}
	for _, t := range []*template{w.db, w.coll, w.query, w.update} {
		if err := t.check(b.Schema()); err != nil {
			return err
		}
	}
	type target struct{ db, coll string }
	var cur target
	var models []mongo.WriteModel
	var rows []int
	send := func() error {
		if len(models) == 0 {
			return nil
		}
		err := w.bulk(ctx, st, b, cur.db, cur.coll, models, rows)
		models, rows = models[:0], rows[:0]
		return err
	}
	for i := range int(b.NumRows()) {
		t := target{w.db.render(b, i), w.coll.render(b, i)}
		if t != cur || len(models) >= w.batchSize {
			if err := send(); err != nil {
				return err
			}
			cur = t
		}
		m, err := w.model(b, i)
		if err != nil {
			if derr := st.DeadLetter(ctx, flow.Rejection{Err: fmt.Errorf("%s: %w", w.op, err), Source: fmt.Sprintf("mongodb:%s.%s", t.db, t.coll), Row: rowMap(b, i)}); derr != nil {
				return derr
			}
			continue
		}
		models = append(models, m)
		rows = append(rows, i)
	}
	return send()
}

func rowMap(b arrow.RecordBatch, i int) map[string]any {
	s := b.NewSlice(int64(i), int64(i+1))
	defer s.Release()
	rs := batch.Rows(s)
	if len(rs) == 1 {
		return rs[0]
	}
	return nil
}

// model is row i as a write model.
func (w *writer) model(b arrow.RecordBatch, i int) (mongo.WriteModel, error) {
	op := w.op
	if w.opField != "" {
		idx := b.Schema().FieldIndices(w.opField)
		if len(idx) == 0 {
			return nil, &flow.ParamError{Key: "operation_field", Err: fmt.Errorf("no column %q", w.opField)}
		}
		op = batch.FormatValue(b.Column(idx[0]), i)
	}
	doc := func() (bson.D, error) { return rowDoc(b, i) }
	filter := func() (any, error) {
		if w.query == nil || w.query.text == "" {
			d, err := doc()
			if err != nil {
				return nil, err
			}
			for _, e := range d {
				if e.Key == "_id" {
					return bson.D{e}, nil
				}
			}
			return nil, fmt.Errorf("no query and no _id column to match on")
		}
		var f bson.D
		if err := bson.UnmarshalExtJSON([]byte(w.query.render(b, i)), false, &f); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		return f, nil
	}
	update := func() (any, error) {
		if w.update != nil && w.update.text != "" {
			var u any
			text := w.update.render(b, i)
			if err := bson.UnmarshalExtJSON([]byte(`{"u":`+text+`}`), false, &u); err != nil {
				return nil, fmt.Errorf("update: %w", err)
			}
			return u.(bson.D)[0].Value, nil
		}
		d, err := doc()
		if err != nil {
			return nil, err
		}
		set := bson.D{}
		for _, e := range d {
			if e.Key != "_id" {
				set = append(set, e)
			}
		}
		return bson.D{{Key: "$set", Value: set}}, nil
	}
	switch op {
	case "insertOne", "insertMany", "insert":
		d, err := doc()
		if err != nil {
			return nil, err
		}
		return mongo.NewInsertOneModel().SetDocument(d), nil
	case "updateOne", "update", "updateMany":
		f, err := filter()
		if err != nil {
			return nil, err
		}
		u, err := update()
		if err != nil {
			return nil, err
		}
		if op == "updateMany" {
			return mongo.NewUpdateManyModel().SetFilter(f).SetUpdate(u).SetUpsert(w.upsert), nil
		}
		return mongo.NewUpdateOneModel().SetFilter(f).SetUpdate(u).SetUpsert(w.upsert), nil
	case "replaceOne", "replaceMany", "replace":
		f, err := filter()
		if err != nil {
			return nil, err
		}
		d, err := doc()
		if err != nil {
			return nil, err
		}
		return mongo.NewReplaceOneModel().SetFilter(f).SetReplacement(d).SetUpsert(w.upsert), nil
	case "deleteOne", "delete", "deleteMany":
		f, err := filter()
		if err != nil {
			return nil, err
		}
		if op == "deleteMany" {
			return mongo.NewDeleteManyModel().SetFilter(f), nil
		}
		return mongo.NewDeleteOneModel().SetFilter(f), nil
	}
	return nil, fmt.Errorf("unknown operation %q (insert, update, updateMany, replace, delete, deleteMany)", op)
}

func (w *writer) bulk(ctx context.Context, st *flow.Stage, b arrow.RecordBatch, db, coll string, models []mongo.WriteModel, rows []int) error {
	res, err := w.client.Database(db).Collection(coll).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(w.ordered))
	if res != nil {
		w.stats.inserted += res.InsertedCount
		w.stats.matched += res.MatchedCount
		w.stats.modified += res.ModifiedCount
		w.stats.upserted += res.UpsertedCount
		w.stats.deleted += res.DeletedCount
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 && bwe.WriteConcernError == nil {
		for _, we := range bwe.WriteErrors {
			w.stats.failed++
			row := rows[we.Index]
			rej := flow.Rejection{Err: fmt.Errorf("%s: server error %d: %s", w.op, we.Code, we.Message),
				Source: fmt.Sprintf("mongodb:%s.%s", db, coll), Row: rowMap(b, row)}
			if derr := st.DeadLetter(ctx, rej); derr != nil {
				return derr
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s on %s.%s: %w", w.op, db, coll, err)
	}
	return nil
}

// Durable: every bulk write returned after the server acknowledged it.
func (w *writer) Durable(context.Context, *flow.Stage) error { return nil }

func (w *writer) Close(ctx context.Context, st *flow.Stage) error {
	if w.client != nil {
		st.Logger.Info(w.op+" done", "inserted", w.stats.inserted, "matched", w.stats.matched, "modified", w.stats.modified,
			"upserted", w.stats.upserted, "deleted", w.stats.deleted, "failed", w.stats.failed)
		release(w.uri)
		w.client = nil
	}
	return nil
}

func (w *writer) Abort() {
	if w.client != nil {
		release(w.uri)
		w.client = nil
	}
}
