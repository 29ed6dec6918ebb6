package mongodb

import (
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/conveyor-etl/conveyor/batch"
)

// MetaBSON is the field metadata key that records a column's BSON type
// when Arrow has none of its own: "objectid" (a 24-hex-digit string) and
// "decimal128" (exact decimal text). Writers turn such columns back into
// that BSON type.
const MetaBSON = "conveyor.bson"

// kind is what the values of one field have in common (the BSON → Arrow
// mapping):
//
//	null only           → string (all null)
//	bool                → bool
//	int32               → int32; int32 and int64 → int64
//	int32/int64 + double → float64
//	string              → string
//	ObjectId            → string (hex) marked objectid
//	date                → timestamp (µs, UTC)
//	decimal128          → string (exact text) marked decimal128
//	document, one shape → struct of the fields' kinds
//	array               → list of the elements' kind
//	anything else, or a mixture (documents of differing shapes, ints and
//	strings, ...) → string holding relaxed extended JSON, marked JSON so
//	JSON writers emit it nested
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt32
	kInt64
	kDouble
	kString
	kObjectID
	kDate
	kDecimal
	kDoc
	kArray
	kJSON
)

type shape struct {
	k      kind
	fields []string // kDoc: in first-seen order
	child  map[string]*shape
	elem   *shape // kArray
}

func kindOf(t bson.Type) kind {
	switch t {
	case bson.TypeNull, bson.TypeUndefined:
		return kNull
	case bson.TypeBoolean:
		return kBool
	case bson.TypeInt32:
		return kInt32
	case bson.TypeInt64:
		return kInt64
	case bson.TypeDouble:
		return kDouble
	case bson.TypeString, bson.TypeSymbol:
		return kString
	case bson.TypeObjectID:
		return kObjectID
	case bson.TypeDateTime:
		return kDate
	case bson.TypeDecimal128:
		return kDecimal
	case bson.TypeEmbeddedDocument:
		return kDoc
	case bson.TypeArray:
		return kArray
	}
	return kJSON
}

// observe widens s with one value.
func (s *shape) observe(v bson.RawValue) {
	k := kindOf(v.Type)
	switch {
	case k == kNull || s.k == kJSON:
		return
	case s.k == kNull:
		s.k = k
		switch k {
		case kDoc:
			s.child = map[string]*shape{}
			s.observeDoc(v.Document(), true)
		case kArray:
			s.elem = &shape{}
			s.observeArray(v.Array())
		}
	case s.k == k:
		switch k {
		case kDoc:
			s.observeDoc(v.Document(), false)
		case kArray:
			s.observeArray(v.Array())
		}
	case num(s.k) && num(k):
		s.k = max(s.k, k)
	default:
		s.k, s.fields, s.child, s.elem = kJSON, nil, nil, nil
	}
}

func num(k kind) bool { return k == kInt32 || k == kInt64 || k == kDouble }

// observeDoc merges a nested document: the same keys keep a struct;
// differing keys make the field JSON.
func (s *shape) observeDoc(d bson.Raw, first bool) {
	els, err := d.Elements()
	if err != nil {
		s.k = kJSON
		return
	}
	if !first {
		if len(els) != len(s.fields) {
			s.k, s.fields, s.child = kJSON, nil, nil
			return
		}
		for _, e := range els {
			if _, ok := s.child[e.Key()]; !ok {
				s.k, s.fields, s.child = kJSON, nil, nil
				return
			}
		}
	}
	for _, e := range els {
		c := s.child[e.Key()]
		if c == nil {
			c = &shape{}
			s.child[e.Key()] = c
			s.fields = append(s.fields, e.Key())
		}
		c.observe(e.Value())
		if s.k == kJSON {
			return
		}
	}
}

func (s *shape) observeArray(a bson.RawArray) {
	vals, err := a.Values()
	if err != nil {
		s.k, s.elem = kJSON, nil
		return
	}
	for _, v := range vals {
		s.elem.observe(v)
	}
}

// arrowField is the Arrow field of a shape.
func (s *shape) arrowField(name string) arrow.Field {
	f := arrow.Field{Name: name, Nullable: true}
	switch s.k {
	case kBool:
		f.Type = arrow.FixedWidthTypes.Boolean
	case kInt32:
		f.Type = arrow.PrimitiveTypes.Int32
	case kInt64:
		f.Type = arrow.PrimitiveTypes.Int64
	case kDouble:
		f.Type = arrow.PrimitiveTypes.Float64
	case kDate:
		f.Type = arrow.FixedWidthTypes.Timestamp_us
	case kObjectID:
		f.Type = arrow.BinaryTypes.String
		f.Metadata = arrow.NewMetadata([]string{MetaBSON}, []string{"objectid"})
	case kDecimal:
		f.Type = arrow.BinaryTypes.String
		f.Metadata = arrow.NewMetadata([]string{MetaBSON}, []string{"decimal128"})
	case kDoc:
		fields := make([]arrow.Field, len(s.fields))
		for i, n := range s.fields {
			fields[i] = s.child[n].arrowField(n)
		}
		f.Type = arrow.StructOf(fields...)
	case kArray:
		ef := s.elem.arrowField("item")
		lt := arrow.ListOfField(ef)
		f.Type = lt
	case kJSON:
		f.Type = arrow.BinaryTypes.String
		f.Metadata = arrow.NewMetadata([]string{batch.MetaJSON}, []string{"true"})
	default:
		f.Type = arrow.BinaryTypes.String
	}
	return f
}

// inferSchema is the schema of documents: the union of their fields in
// first-seen order, each field's shape widened over every document.
func inferSchema(docs []bson.Raw) (*arrow.Schema, error) {
	root := &shape{k: kDoc, child: map[string]*shape{}}
	for _, d := range docs {
		els, err := d.Elements()
		if err != nil {
			return nil, err
		}
		for _, e := range els {
			c := root.child[e.Key()]
			if c == nil {
				c = &shape{}
				root.child[e.Key()] = c
				root.fields = append(root.fields, e.Key())
			}
			c.observe(e.Value())
		}
	}
	fields := make([]arrow.Field, len(root.fields))
	for i, n := range root.fields {
		fields[i] = root.child[n].arrowField(n)
	}
	return arrow.NewSchema(fields, nil), nil
}

// appendValue appends v to b, whose field is f. It returns an error when v
// does not fit (a later document of another shape). With b nil it only
// checks, so a document can be checked whole before any of it is appended.
func appendValue(b array.Builder, f arrow.Field, v bson.RawValue) error {
	if k := kindOf(v.Type); k == kNull {
		if b != nil {
			b.AppendNull()
		}
		return nil
	}
	if m, ok := f.Metadata.GetValue(batch.MetaJSON); ok && m == "true" {
		if b != nil {
			b.(*array.StringBuilder).Append(extJSON(v))
		}
		return nil
	}
	mismatch := func() error {
		return fmt.Errorf("field %q: a BSON %s does not fit the column's type %s (inferred from the first documents; raise infer_docs)", f.Name, v.Type, f.Type)
	}
	switch f.Type.ID() {
	case arrow.BOOL:
		x, ok := v.BooleanOK()
		if !ok {
			return mismatch()
		}
		if b != nil {
			b.(*array.BooleanBuilder).Append(x)
		}
	case arrow.INT32:
		x, ok := v.Int32OK()
		if !ok {
			return mismatch()
		}
		if b != nil {
			b.(*array.Int32Builder).Append(x)
		}
	case arrow.INT64:
		var x int64
		switch v.Type {
		case bson.TypeInt32:
			x = int64(v.Int32())
		case bson.TypeInt64:
			x = v.Int64()
		default:
			return mismatch()
		}
		if b != nil {
			b.(*array.Int64Builder).Append(x)
		}
	case arrow.FLOAT64:
		var x float64
		switch v.Type {
		case bson.TypeInt32:
			x = float64(v.Int32())
		case bson.TypeInt64:
			x = float64(v.Int64())
		case bson.TypeDouble:
			x = v.Double()
		default:
			return mismatch()
		}
		if b != nil {
			b.(*array.Float64Builder).Append(x)
		}
	case arrow.TIMESTAMP:
		ms, ok := v.DateTimeOK()
		if !ok {
			return mismatch()
		}
		if b != nil {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(ms * 1000))
		}
	case arrow.STRING:
		meta, _ := f.Metadata.GetValue(MetaBSON)
		var x string
		switch {
		case meta == "objectid" && v.Type == bson.TypeObjectID:
			x = v.ObjectID().Hex()
		case meta == "decimal128" && v.Type == bson.TypeDecimal128:
			x = v.Decimal128().String()
		case meta == "" && (v.Type == bson.TypeString || v.Type == bson.TypeSymbol):
			x = v.StringValue()
		default:
			return mismatch()
		}
		if b != nil {
			b.(*array.StringBuilder).Append(x)
		}
	case arrow.STRUCT:
		d, ok := v.DocumentOK()
		if !ok {
			return mismatch()
		}
		st := f.Type.(*arrow.StructType)
		var sb *array.StructBuilder
		if b != nil {
			sb = b.(*array.StructBuilder)
			sb.Append(true)
		}
		for i, cf := range st.Fields() {
			var child array.Builder
			if sb != nil {
				child = sb.FieldBuilder(i)
			}
			cv, err := d.LookupErr(cf.Name)
			if err != nil {
				if child != nil {
					child.AppendNull()
				}
				continue
			}
			if err := appendValue(child, cf, cv); err != nil {
				return err
			}
		}
	case arrow.LIST:
		a, ok := v.ArrayOK()
		if !ok {
			return mismatch()
		}
		vals, err := a.Values()
		if err != nil {
			return err
		}
		ef := f.Type.(*arrow.ListType).ElemField()
		var lb *array.ListBuilder
		var eb array.Builder
		if b != nil {
			lb = b.(*array.ListBuilder)
			lb.Append(true)
			eb = lb.ValueBuilder()
		}
		for _, ev := range vals {
			if err := appendValue(eb, ef, ev); err != nil {
				return err
			}
		}
	default:
		return mismatch()
	}
	return nil
}

// extJSON is v as relaxed extended JSON.
func extJSON(v bson.RawValue) string {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		b, err := bson.MarshalExtJSON(v.Document(), false, false)
		if err == nil {
			return string(b)
		}
	case bson.TypeArray:
		// Wrap the array in a document to render it, then unwrap.
		b, err := bson.MarshalExtJSON(bson.D{{Key: "a", Value: v}}, false, false)
		if err == nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) == nil {
				return string(m["a"])
			}
		}
	}
	b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: v}}, false, false)
	if err != nil {
		return v.String()
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return v.String()
	}
	return string(m["v"])
}

// rowDoc is row i of b as a BSON document. Null values are left out;
// columns marked objectid become ObjectIds, decimal128 Decimal128s, JSON
// columns nested values, timestamps dates.
func rowDoc(b arrow.RecordBatch, i int) (bson.D, error) {
	s := b.Schema()
	d := make(bson.D, 0, s.NumFields())
	for c, f := range s.Fields() {
		col := b.Column(c)
		if col.IsNull(i) {
			continue
		}
		v, err := bsonValue(f, col, i)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		d = append(d, bson.E{Key: f.Name, Value: v})
	}
	return d, nil
}

func bsonValue(f arrow.Field, col arrow.Array, i int) (any, error) {
	switch a := col.(type) {
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Int8:
		return int32(a.Value(i)), nil
	case *array.Int16:
		return int32(a.Value(i)), nil
	case *array.Int32:
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Uint8:
		return int32(a.Value(i)), nil
	case *array.Uint16:
		return int32(a.Value(i)), nil
	case *array.Uint32:
		return int64(a.Value(i)), nil
	case *array.Uint64:
		return int64(a.Value(i)), nil
	case *array.Float32:
		return float64(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return bson.NewDateTimeFromTime(a.Value(i).ToTime(unit)), nil
	case *array.Date32:
		return bson.NewDateTimeFromTime(a.Value(i).ToTime()), nil
	case *array.Date64:
		return bson.NewDateTimeFromTime(a.Value(i).ToTime()), nil
	case *array.String:
		s := a.Value(i)
		if m, ok := f.Metadata.GetValue(MetaBSON); ok {
			switch m {
			case "objectid":
				return bson.ObjectIDFromHex(s)
			case "decimal128":
				return bson.ParseDecimal128(s)
			}
		}
		if m, ok := f.Metadata.GetValue(batch.MetaJSON); ok && m == "true" {
			var v any
			if err := bson.UnmarshalExtJSON([]byte(`{"v":`+s+`}`), false, &v); err != nil {
				return nil, err
			}
			if d, ok := v.(bson.D); ok && len(d) == 1 {
				return d[0].Value, nil
			}
			return v, nil
		}
		return s, nil
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		d := bson.D{}
		for c, cf := range st.Fields() {
			child := a.Field(c)
			if child.IsNull(i) {
				continue
			}
			v, err := bsonValue(cf, child, i)
			if err != nil {
				return nil, err
			}
			d = append(d, bson.E{Key: cf.Name, Value: v})
		}
		return d, nil
	case *array.List:
		start, end := a.ValueOffsets(i)
		ef := a.DataType().(*arrow.ListType).ElemField()
		out := make(bson.A, 0, end-start)
		for j := start; j < end; j++ {
			if a.ListValues().IsNull(int(j)) {
				out = append(out, nil)
				continue
			}
			v, err := bsonValue(ef, a.ListValues(), int(j))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	// Anything else as its display text.
	return batch.FormatValue(col, i), nil
}
