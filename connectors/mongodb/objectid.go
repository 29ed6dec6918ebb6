package mongodb

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/conveyor-etl/conveyor/flow"
)

// toObjectID is mongodb.toObjectId: it marks string columns of 24 hex
// digits as ObjectIds (field metadata), so the MongoDB sinks write them as
// ObjectIds. Values are checked; the data is shared, not copied.
type toObjectID struct{ columns []string }

func (o toObjectID) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	s := in.Schema()
	fields := append([]arrow.Field(nil), s.Fields()...)
	for _, name := range o.columns {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("mongodb.toObjectId: no column %q", name)}
		}
		col, ok := in.Column(idx[0]).(*array.String)
		if !ok {
			return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("mongodb.toObjectId: column %q is %s, not a string", name, in.Column(idx[0]).DataType())}
		}
		for i := range col.Len() {
			if col.IsNull(i) {
				continue
			}
			if _, err := bson.ObjectIDFromHex(col.Value(i)); err != nil {
				return nil, fmt.Errorf("mongodb.toObjectId: column %q, row %d: %q is not an ObjectId (24 hex digits)", name, i+1, col.Value(i))
			}
		}
		f := fields[idx[0]]
		keys, vals := append([]string(nil), f.Metadata.Keys()...), append([]string(nil), f.Metadata.Values()...)
		keys, vals = append(keys, MetaBSON), append(vals, "objectid")
		f.Metadata = arrow.NewMetadata(keys, vals)
		fields[idx[0]] = f
	}
	meta := s.Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &meta), in.Columns(), in.NumRows()), nil
}
