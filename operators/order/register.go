package order

import (
	"slices"

	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds sort.apply (alias transform.sort) and limit.apply to r.
func Register(r *flow.Registry) {
	r.Register(SortSpec())
	r.Register(LimitSpec())
}

// SortSpec returns sort.apply's spec (a new value on each call).
func SortSpec() *flow.Spec {
	return &flow.Spec{
		Name:    sortName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.sort"},
		Tags:    []string{"relational", "blocking", "spills"},
		Summary: "Sort rows by one or more columns (external sort above a memory budget).",
		Description: `Sorts the whole input by the columns of by, compared in order; descending is one bool
for every key or a list with one bool per key. The sort is stable: rows with equal keys
keep their input order.

Key types: integers, floats, bool (false < true), strings and binary (byte-wise, i.e. by
Unicode code point for UTF-8), timestamps, dates, times and durations. Floats order as
-Inf < negative < -0 = +0 < positive < +Inf < NaN (every NaN equal), like PostgreSQL and
DuckDB. Other types (lists, structs, decimals, dictionaries) cannot be keys.

Nulls: by default a null is larger than every value (PostgreSQL's convention), so nulls
come last in ascending keys and first in descending keys. nulls = "first" or "last" puts
them there for every key.

sort.apply is blocking: it holds its input until the input ends, then emits the rows in
batches of the pipeline's batch_size. Watermarks are not forwarded. When the held input
exceeds memory_limit, the rows held are sorted and written to a temporary file in
temp_dir (Arrow IPC stream format) and memory is freed; at the end the sorted files are
merged (k-way, 16 files at a time; more files are merged in several passes) while the
output streams out, so inputs larger than memory sort in about memory_limit plus one
batch per file being merged. Temporary files are removed when the stage ends, whether
it succeeds, fails or is cancelled. The run summary reports the peak memory held.

When the input's schema changes between batches, the schemas are unified by column name
(missing columns become null, types are widened as union.apply does).`,
		Params: []flow.Param{
			{Name: "by", Type: flow.TypeStringOrList, Required: true, Doc: "Key column, or list of key columns compared in order."},
			{Name: "descending", Type: flow.TypeBoolOrList, Default: false, Doc: "true for descending order; a list gives one bool per key."},
			{Name: "nulls", Type: flow.TypeString, Allowed: []string{"first", "last"}, Doc: "Where nulls go for every key (default: last for ascending keys, first for descending ones)."},
			{Name: "memory_limit", Type: flow.TypeAny, Default: "256MiB", Doc: "Memory budget before spilling to disk: bytes as an integer, or a string with a unit (KB, MB, GB are powers of 1000; KiB, MiB, GiB and K, M, G powers of 1024)."},
			{Name: "temp_dir", Type: flow.TypeString, Doc: "Directory for spilled runs (default: the system temporary directory)."},
		},
		Check:  checkSort,
		New:    newSort,
		Schema: sortSchema,
		Uses: func(cfg flow.Config, needed []string) []string {
			if needed == nil {
				return nil
			}
			out := append([]string{}, needed...)
			for _, c := range cfg.Strings("by") {
				if !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
			return out
		},
		Examples: []flow.Example{
			{
				Title:  "Highest amount first; nulls first in a descending key",
				Config: "by = \"amount\"\ndescending = true\n",
				Input:  "{\"id\":1,\"amount\":10}\n{\"id\":2,\"amount\":null}\n{\"id\":3,\"amount\":250}\n{\"id\":4,\"amount\":10}\n",
				Output: "{\"id\":2,\"amount\":null}\n{\"id\":3,\"amount\":250}\n{\"id\":1,\"amount\":10}\n{\"id\":4,\"amount\":10}\n",
			},
			{
				Title:  "Two keys in mixed directions",
				Config: "by = [\"country\", \"amount\"]\ndescending = [false, true]\n",
				Input:  "{\"country\":\"US\",\"amount\":5}\n{\"country\":\"FR\",\"amount\":1}\n{\"country\":\"US\",\"amount\":9}\n{\"country\":\"FR\",\"amount\":7}\n",
				Output: "{\"country\":\"FR\",\"amount\":7}\n{\"country\":\"FR\",\"amount\":1}\n{\"country\":\"US\",\"amount\":9}\n{\"country\":\"US\",\"amount\":5}\n",
			},
			{
				Title:  "Nulls first in an ascending key",
				Config: "by = \"name\"\nnulls = \"first\"\n",
				Input:  "{\"name\":\"Émile\"}\n{\"name\":\"Zoé\"}\n{\"name\":null}\n{\"name\":\"Ann\"}\n",
				Output: "{\"name\":null}\n{\"name\":\"Ann\"}\n{\"name\":\"Zoé\"}\n{\"name\":\"Émile\"}\n",
			},
		},
	}
}

// LimitSpec returns limit.apply's spec (a new value on each call).
func LimitSpec() *flow.Spec {
	return &flow.Spec{
		Name:    limitName,
		Kind:    flow.KindTransform,
		Tags:    []string{"relational", "streaming", "zero-copy"},
		Summary: "Pass the first n rows (after skipping offset rows).",
		Description: `Skips the first offset rows, passes the next n rows, and discards the rest. Rows keep
their order; the output batches are zero-copy slices of the input batches. The stage goes
on reading (and discarding) its input after the n-th row, so the stages before it finish
normally instead of blocking. Watermarks are forwarded.`,
		Params: []flow.Param{
			{Name: "n", Type: flow.TypeInt, Required: true, Min: flow.F(0), Doc: "Number of rows to pass."},
			{Name: "offset", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Number of rows to skip first."},
		},
		New:    newLimit,
		Schema: limitSchema,
		Uses:   func(_ flow.Config, needed []string) []string { return needed },
		Examples: []flow.Example{
			{
				Title:  "First two rows",
				Config: "n = 2\n",
				Input:  "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n",
				Output: "{\"id\":1}\n{\"id\":2}\n",
			},
			{
				Title:  "A page: skip two rows, take two",
				Config: "n = 2\noffset = 2\n",
				Input:  "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n",
				Output: "{\"id\":3}\n{\"id\":4}\n",
			},
		},
	}
}
