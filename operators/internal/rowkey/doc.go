// Package rowkey maps multi-column row keys to dense group ids.
//
// A Table is built for a fixed list of key column types. Insert assigns each
// row of a batch the id of its key, creating a new id (0, 1, 2, ... in order
// of first appearance) for keys never seen before; Lookup only probes and
// reports -1 for keys that are absent (for the probe side of hash joins).
// Keys returns the distinct keys, as Arrow columns in id order.
//
// # Key semantics
//
//   - Supported key types: int8..int64, uint8..uint64, float32, float64,
//     bool, string, large_string, binary, large_binary, date32, date64,
//     timestamp, time32, time64, duration, and dictionary arrays whose value
//     type is one of those. Other types make New return an error wrapping
//     ErrUnsupportedType.
//   - Null is a key value of its own: all null rows of a column share one
//     id, distinct from every non-null value. (A SQL join, where null never
//     matches, must drop null-key rows itself before calling Lookup.)
//   - Floats: every NaN equals every other NaN, and -0.0 equals 0.0; the
//     key returned by Keys is the canonical value (NaN, 0.0).
//   - A dictionary column groups by its decoded value, never by the
//     dictionary index, so batches with different dictionaries agree; Keys
//     returns the value type (dictionary<int32, string> gives string). See
//     OutputType.
//
// # Lookup with other column types
//
// Lookup (and Insert) accept, for each key, any column of the same "class"
// as the type the table was built with, which lets a join probe an int64
// build side with int32 keys: signed integers (int8..int64) compare by
// value; unsigned integers likewise; float32 and float64 compare by
// float64 value; string, large_string, binary and large_binary compare by
// bytes; bool with bool; temporal types only with exactly the same type
// (same unit and time zone). Any of these may also arrive
// dictionary-encoded. Other combinations are an error wrapping
// ErrTypeMismatch.
//
// # Implementation
//
// Each key column has its own open-addressing hash table that maps a value
// to a column-local id (fixed-width values are normalized to a uint64; byte
// strings are hashed with hash/maphash and stored once in a byte arena, so
// probing allocates nothing). With one key column the local id is the group
// id. With several, the local ids are combined pairwise: (id0, id1) packed
// in a uint64 is looked up in a uint64 table giving a pair id, which is then
// paired with id2, and so on; the last table's ids are the group ids. With
// low-cardinality key columns (country, category) every table stays small
// and in cache. Memory is proportional to the number of distinct keys, not
// to the number of rows. A Table is not safe for concurrent use.
package rowkey
