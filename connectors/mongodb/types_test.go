package mongodb

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Decimal128 (which the test server does not store) maps to its exact
// text, marked decimal128, and goes back to a Decimal128; int32 and int64
// widen to int64, a number mixed with a string gives JSON text.
func TestDecimalAndWidening(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dec, _ := bson.ParseDecimal128("12.345")
	d1, _ := bson.Marshal(bson.D{{Key: "dec", Value: dec}, {Key: "n", Value: int32(1)}, {Key: "mix", Value: int32(1)}})
	d2, _ := bson.Marshal(bson.D{{Key: "dec", Value: dec}, {Key: "n", Value: int64(2)}, {Key: "mix", Value: "two"}})
	s, err := inferSchema([]bson.Raw{d1, d2})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "schema:\n  fields: 3\n    - dec: type=utf8, nullable\n      metadata: [\"conveyor.bson\": \"decimal128\"]\n    - n: type=int64, nullable\n    - mix: type=utf8, nullable\n      metadata: [\"conveyor.json\": \"true\"]" {
		t.Logf("schema %s", got)
	}
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	for _, d := range []bson.Raw{d1, d2} {
		if err := fill(b, s.Fields(), d); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if v := rec.Column(0).(*array.String).Value(0); v != "12.345" {
		t.Errorf("decimal text %q", v)
	}
	if v := rec.Column(1).(*array.Int64).Value(0); v != 1 {
		t.Errorf("widened int %d", v)
	}
	if v := rec.Column(2).(*array.String).Value(1); v != `"two"` {
		t.Errorf("mixed → JSON %q", v)
	}
	doc, err := rowDoc(rec, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc[0].Value.(bson.Decimal128); !ok || doc[2].Value != "two" {
		t.Errorf("back to BSON: %#v", doc)
	}
}
