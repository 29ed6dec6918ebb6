package mongodb

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/conveyor-etl/conveyor/flow"
)

// reader is mongodb.find, mongodb.findOne and mongodb.aggregate.
type reader struct {
	op                   string // find, findOne, aggregate
	uri                  string
	pool                 poolOptions
	db, coll, query      *template
	pipeline             *template
	projection, sortSpec bson.D
	limit                int64
	batchSize            int
	inferDocs            int

	client *mongo.Client
	mem    memory.Allocator
	schema *arrow.Schema
	b      *array.RecordBuilder
	fields []arrow.Field
	src    string
}

// Run reads the query's documents (once, or once per distinct value set of
// the template columns over the input rows) and emits them in batches.
func (r *reader) Run(ctx context.Context, st *flow.Stage) error {
	c, err := acquire(ctx, r.uri, r.pool)
	if err != nil {
		return fmt.Errorf("%s: %w", r.op, err)
	}
	r.client, r.mem = c, st.Alloc
	defer release(r.uri)
	defer func() {
		if r.b != nil {
			r.b.Release()
		}
	}()
	if st.NumInputs() == 0 {
		if err := r.query1(ctx, st, r.db.text, r.coll.text, r.queryText(nil, 0)); err != nil {
			return err
		}
		return r.flush(ctx, st)
	}
	// A lookup: one query per distinct rendering over the input rows.
	seen := map[string]bool{}
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if msg.Kind != flow.MsgData || msg.Batch == nil {
			continue
		}
		in := msg.Batch
		for _, t := range []*template{r.db, r.coll, r.query, r.pipeline} {
			if err := t.check(in.Schema()); err != nil {
				in.Release()
				return err
			}
		}
		for i := range int(in.NumRows()) {
			db, coll, q := r.db.render(in, i), r.coll.render(in, i), r.queryText(in, i)
			key := db + "\x00" + coll + "\x00" + q
			if seen[key] {
				continue
			}
			seen[key] = true
			if err := r.query1(ctx, st, db, coll, q); err != nil {
				in.Release()
				return err
			}
		}
		in.Release()
	}
	return r.flush(ctx, st)
}

func (r *reader) queryText(b arrow.RecordBatch, i int) string {
	t := r.query
	if r.op == "aggregate" {
		t = r.pipeline
	}
	if t == nil {
		return ""
	}
	if b == nil {
		return t.text
	}
	return t.render(b, i)
}

// query1 runs one query and appends its documents.
func (r *reader) query1(ctx context.Context, st *flow.Stage, db, coll, q string) error {
	if db == "" || coll == "" {
		return fmt.Errorf("%s: database and collection must not be empty (after templates)", r.op)
	}
	r.src = fmt.Sprintf("mongodb:%s.%s", db, coll)
	c := r.client.Database(db).Collection(coll)
	var cur *mongo.Cursor
	var err error
	switch r.op {
	case "aggregate":
		var pipe bson.A
		text := q
		if text == "" {
			text = "[]"
		}
		if err := bson.UnmarshalExtJSON([]byte(`{"p":`+text+`}`), false, &struct {
			P *bson.A `bson:"p"`
		}{&pipe}); err != nil {
			return &flow.ParamError{Key: "pipeline", Err: fmt.Errorf("aggregate: pipeline is not a JSON array of stages: %w", err)}
		}
		opts := options.Aggregate()
		if r.batchSize > 0 {
			opts.SetBatchSize(int32(r.batchSize))
		}
		cur, err = c.Aggregate(ctx, pipe, opts)
	default:
		filter := bson.D{}
		if q != "" {
			if err := bson.UnmarshalExtJSON([]byte(q), false, &filter); err != nil {
				return &flow.ParamError{Key: "query", Err: fmt.Errorf("%s: query is not a JSON object: %w", r.op, err)}
			}
		}
		opts := options.Find()
		if r.projection != nil {
			opts.SetProjection(r.projection)
		}
		if r.sortSpec != nil {
			opts.SetSort(r.sortSpec)
		}
		limit := r.limit
		if r.op == "findOne" {
			limit = 1
		}
		if limit > 0 {
			opts.SetLimit(limit)
		}
		if r.batchSize > 0 {
			opts.SetBatchSize(int32(r.batchSize))
		}
		cur, err = c.Find(ctx, filter, opts)
	}
	if err != nil {
		return fmt.Errorf("%s on %s.%s: %w", r.op, db, coll, err)
	}
	defer cur.Close(context.Background())
	var pending []bson.Raw
	for cur.Next(ctx) {
		doc := append(bson.Raw(nil), cur.Current...)
		if r.schema == nil {
			pending = append(pending, doc)
			if len(pending) < r.inferDocs {
				continue
			}
			if err := r.fix(pending); err != nil {
				return err
			}
			for _, d := range pending {
				if err := r.add(ctx, st, d); err != nil {
					return err
				}
			}
			pending = nil
			continue
		}
		if err := r.add(ctx, st, doc); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("%s on %s.%s: %w", r.op, db, coll, err)
	}
	if len(pending) > 0 {
		if err := r.fix(pending); err != nil {
			return err
		}
		for _, d := range pending {
			if err := r.add(ctx, st, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// fix infers the schema from the first documents.
func (r *reader) fix(docs []bson.Raw) error {
	s, err := inferSchema(docs)
	if err != nil {
		return fmt.Errorf("%s: %w", r.op, err)
	}
	r.schema = s
	r.fields = s.Fields()
	return nil
}

// add appends one document; one that does not fit the schema is rejected.
func (r *reader) add(ctx context.Context, st *flow.Stage, d bson.Raw) error {
	if r.b == nil {
		r.b = array.NewRecordBuilder(st.Alloc, r.schema)
	}
	els, err := d.Elements()
	if err == nil {
		for _, e := range els {
			if len(r.schema.FieldIndices(e.Key())) == 0 {
				err = fmt.Errorf("field %q is not in the schema inferred from the first documents (raise infer_docs)", e.Key())
				break
			}
		}
	}
	if err == nil {
		err = r.appendDoc(d)
	}
	if err != nil {
		return st.Reject(ctx, flow.Rejection{Err: err, Source: r.src, Raw: d.String()})
	}
	if r.b.Field(0).Len() >= r.batchRows() {
		return r.flush(ctx, st)
	}
	return nil
}

// appendDoc appends d as one row, all or nothing: the document is checked
// whole first (Arrow builders cannot take a value back).
func (r *reader) appendDoc(d bson.Raw) error {
	if err := fill(nil, r.fields, d); err != nil {
		return err
	}
	return fill(r.b, r.fields, d)
}

// fill appends d's fields to b; with b nil it only checks them.
func fill(b *array.RecordBuilder, fields []arrow.Field, d bson.Raw) error {
	for i, f := range fields {
		var fb array.Builder
		if b != nil {
			fb = b.Field(i)
		}
		v, err := d.LookupErr(f.Name)
		if err != nil {
			if fb != nil {
				fb.AppendNull()
			}
			continue
		}
		if err := appendValue(fb, f, v); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) batchRows() int {
	if r.batchSize > 0 {
		return r.batchSize
	}
	return 8192
}

// flush emits the rows built so far.
func (r *reader) flush(ctx context.Context, st *flow.Stage) error {
	if r.b == nil || r.b.Field(0).Len() == 0 {
		return nil
	}
	return st.Emit(ctx, r.b.NewRecordBatch())
}
