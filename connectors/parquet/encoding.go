package parquet

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pq "github.com/apache/arrow-go/v18/parquet"
)

// encSample is how many leading values of a column's first batch
// encodingProps looks at.
const encSample = 8192

// encodingProps chooses the encoding of each top-level column from the
// file's first batch (first):
//
//   - integer and date columns whose first encSample non-null values never
//     decrease and are mostly (more than half) distinct (sequence ids), and
//     timestamp columns whose sample is mostly distinct (event times), get
//     no dictionary (hashing values that are nearly all distinct costs more
//     than the dictionary saves) and BYTE_STREAM_SPLIT encoding, whose
//     byte planes zstd and snappy compress much faster and better than
//     plain values. (DELTA_BINARY_PACKED would be smaller still, but
//     arrow-go v18.8.0's delta decoder leaks a scratch buffer on read.)
//   - every other column keeps the library default: a dictionary, which the
//     encoder drops by itself (falling back to plain) for a row group whose
//     dictionary outgrows 1 MiB.
func encodingProps(first arrow.RecordBatch) []pq.WriterProperty {
	var props []pq.WriterProperty
	for i, f := range first.Schema().Fields() {
		sorted, distinct, n, ok := sampleInts(first.Column(i))
		switch {
		case !ok || n < 2:
		case sorted && distinct*2 > n, f.Type.ID() == arrow.TIMESTAMP && distinct*2 > n:
			props = append(props, pq.WithDictionaryFor(f.Name, false), pq.WithEncodingFor(f.Name, pq.Encodings.ByteStreamSplit))
		}
	}
	return props
}

// sampleInts reads the first encSample non-null values of a, an integer, date
// or timestamp array (ok is false for any other type), and reports
// whether they never decrease, how many are distinct, and how many there
// are.
func sampleInts(a arrow.Array) (sorted bool, distinct, n int, ok bool) {
	var get func(i int) int64
	switch c := a.(type) {
	case *array.Int8:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Int16:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Int32:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Int64:
		get = c.Value
	case *array.Uint8:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Uint16:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Uint32:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Date32:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Date64:
		get = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Timestamp:
		get = func(i int) int64 { return int64(c.Value(i)) }
	default:
		return false, 0, 0, false
	}
	seen := make(map[int64]struct{}, 256)
	sorted = true
	var prev int64
	for i := 0; i < a.Len() && n < encSample; i++ {
		if a.IsNull(i) {
			continue
		}
		v := get(i)
		if n > 0 && v < prev {
			sorted = false
		}
		prev = v
		n++
		seen[v] = struct{}{}
	}
	return sorted, len(seen), n, true
}
