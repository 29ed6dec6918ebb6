// Package aggregate provides Conveyor's hash aggregation stages:
// groupby.apply, reduce.apply and distinct.apply.
package aggregate

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

const (
	groupbyName  = "groupby.apply"
	reduceName   = "reduce.apply"
	distinctName = "distinct.apply"
)

// Register adds groupby.apply (aliases transform.groupby,
// aggregate.groupby), reduce.apply (alias transform.reduce) and
// distinct.apply (alias transform.distinct) to r.
func Register(r *flow.Registry) {
	r.Register(GroupBySpec())
	r.Register(ReduceSpec())
	r.Register(DistinctSpec())
}

const aggregationDocs = `Operations (nulls are skipped by every operation; a group with no non-null value
gets null, except count and count_distinct which give 0):
  count           int64: the non-null values of column; with column omitted or "*",
                  the rows of the group.
  count_distinct  int64: the distinct non-null values (NaN equals NaN, -0.0 equals 0.0).
  sum             int64 over integer columns, float64 over float columns. An integer sum
                  that leaves the int64 range gives null for that group (never a wrapped
                  number) and a warning naming the number of such groups.
  avg (mean)      float64 (accumulated in float64).
  median          float64; for an even count, the mean of the two middle values.
  var, std        float64 sample variance / standard deviation (divisor n-1); null when
                  the group has fewer than 2 values.
  min, max        the column's type (numbers, bools, strings and binary compared
                  byte-wise, dates, times, timestamps); NaN sorts above every number.
  first, last     the first / last non-null value in input order, of the column's type.
sum, avg, median, var and std need a number column; min, max, first and last do not
take dictionary-encoded columns. Memory is proportional to the number of groups, except
for median (keeps every value) and count_distinct (keeps every distinct value per group).`

// GroupBySpec returns groupby.apply's spec (a new value on each call).
func GroupBySpec() *flow.Spec {
	return &flow.Spec{
		Name:    groupbyName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.groupby", "aggregate.groupby"},
		Tags:    []string{"relational", "blocking"},
		Summary: "Group rows by key columns and aggregate each group.",
		Description: `Hash aggregation. by names one or more key columns of any type (integers, floats,
bools, strings, binary, dates, times, timestamps, dictionary-encoded columns); rows
whose keys are equal form a group. A null key is a key value of its own: the rows with
a null in a key column form their own group. Float keys: NaN equals NaN and -0.0 equals
0.0. Dictionary-encoded keys are grouped by value and output decoded.

Each entry of aggregations is a table {column, operation, output_column};
output_column defaults to "<column>_<operation>" ("count" for a count of rows).

` + aggregationDocs + `

Output: the key columns, then the aggregations in the configured order; one row per
group, in order of first appearance of the key in the input. The stage is blocking: it
consumes its whole input, then emits the groups in batches of the pipeline's batch
size. Empty input gives no rows. The memory it holds is reported as the stage's peak
memory in the run summary.`,
		Params: []flow.Param{
			{Name: "by", Type: flow.TypeStringOrList, Required: true, Doc: "Key column(s)."},
			{Name: "aggregations", Type: flow.TypeList, Required: true,
				Doc: "List of {column, operation, output_column}; operation is one of sum avg mean count count_distinct min max median std var first last."},
		},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			_, errs := parseAggs(groupbyName, cfg)
			if len(cfg.Strings("by")) == 0 {
				errs = append(errs, &flow.ConfigError{Key: "by", Message: groupbyName + ": by needs at least one column"})
			}
			return errs
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			aggs, errs := parseAggs(groupbyName, cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			return newHashAgg(groupbyName, "aggregations", cfg.Strings("by"), aggs, env), nil
		},
		Uses: usesColumns(groupbyName, nil),
		Schema: func(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
			aggs, errs := parseAggs(groupbyName, cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			p, err := bind(groupbyName, cfg.Strings("by"), aggs, "aggregations", inputs[0])
			if err != nil {
				return nil, err
			}
			return p.out, nil
		},
		Examples: []flow.Example{
			{
				Title: "Orders per country: count, total and average",
				Config: `by = "country"
aggregations = [
  { operation = "count" },
  { column = "amount", operation = "sum", output_column = "total" },
  { column = "amount", operation = "avg" },
]
`,
				Input:  "{\"country\":\"FR\",\"amount\":10}\n{\"country\":\"US\",\"amount\":5}\n{\"country\":\"FR\",\"amount\":null}\n{\"country\":null,\"amount\":7}\n{\"country\":\"FR\",\"amount\":20}\n",
				Output: "{\"country\":\"FR\",\"count\":3,\"total\":30,\"amount_avg\":15}\n{\"country\":\"US\",\"count\":1,\"total\":5,\"amount_avg\":5}\n{\"country\":null,\"count\":1,\"total\":7,\"amount_avg\":7}\n",
			},
			{
				Title: "Two keys; min, max and distinct counts",
				Config: `by = ["country", "category"]
aggregations = [
  { column = "user", operation = "count_distinct", output_column = "users" },
  { column = "price", operation = "min" },
  { column = "price", operation = "max" },
  { column = "user", operation = "last" },
]
`,
				Input:  "{\"country\":\"DE\",\"category\":\"books\",\"user\":\"ann\",\"price\":12.5}\n{\"country\":\"DE\",\"category\":\"toys\",\"user\":\"bob\",\"price\":3}\n{\"country\":\"DE\",\"category\":\"books\",\"user\":\"ann\",\"price\":7}\n{\"country\":\"DE\",\"category\":\"books\",\"user\":\"cy\",\"price\":9}\n",
				Output: "{\"country\":\"DE\",\"category\":\"books\",\"users\":2,\"price_min\":7,\"price_max\":12.5,\"user_last\":\"cy\"}\n{\"country\":\"DE\",\"category\":\"toys\",\"users\":1,\"price_min\":3,\"price_max\":3,\"user_last\":\"bob\"}\n",
			},
			{
				Title: "Spread: median and sample standard deviation",
				Config: `by = "sensor"
aggregations = [
  { column = "t", operation = "median" },
  { column = "t", operation = "std" },
]
`,
				Input:  "{\"sensor\":1,\"t\":2}\n{\"sensor\":1,\"t\":4}\n{\"sensor\":2,\"t\":5}\n{\"sensor\":1,\"t\":9}\n",
				Output: "{\"sensor\":1,\"t_median\":4,\"t_std\":3.605551275463989}\n{\"sensor\":2,\"t_median\":5,\"t_std\":null}\n",
			},
		},
	}
}

// ReduceSpec returns reduce.apply's spec (a new value on each call).
func ReduceSpec() *flow.Spec {
	return &flow.Spec{
		Name:    reduceName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.reduce"},
		Tags:    []string{"relational", "blocking"},
		Summary: "Aggregate the whole input into a single row.",
		Description: `Computes operation over column for the whole input and emits one row with the result
in output_column (default "<column>_<operation>", or "count" for a count of rows). Several
results at once: aggregations = [{column, operation, output_column}, ...] as in
groupby.apply (not together with column/operation).

` + aggregationDocs + `

The stage is blocking: the row is emitted at the end of input. On empty input it still
emits one row: count and count_distinct are 0, every other result is null (typed float64
for avg, mean, median, var and std; of the null type for the others when no batch, hence
no column type, was ever seen).`,
		Params: []flow.Param{
			{Name: "column", Type: flow.TypeString, Doc: "Column to aggregate (omit or \"*\" for count of rows)."},
			{Name: "operation", Type: flow.TypeString, Allowed: operations, Doc: "sum avg mean count count_distinct min max median std var first last."},
			{Name: "output_column", Type: flow.TypeString, Doc: "Result column name (default <column>_<operation>)."},
			{Name: "aggregations", Type: flow.TypeList, Doc: "Several aggregations, as in groupby.apply."},
		},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			if cfg.Has("aggregations") && (cfg.Has("operation") || cfg.Has("column") || cfg.Has("output_column")) {
				return []*flow.ConfigError{{Key: "aggregations", Message: reduceName + ": give either aggregations or column/operation/output_column, not both"}}
			}
			if !cfg.Has("aggregations") && !cfg.Has("operation") {
				return []*flow.ConfigError{{Key: "operation", Message: reduceName + ": operation is required (or aggregations)"}}
			}
			_, errs := parseAggs(reduceName, cfg)
			return errs
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			aggs, errs := parseAggs(reduceName, cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			return newHashAgg(reduceName, reduceAggKey(cfg), nil, aggs, env), nil
		},
		Uses: usesColumns(reduceName, []string{}),
		Schema: func(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
			aggs, errs := parseAggs(reduceName, cfg)
			if len(errs) > 0 {
				return nil, flow.ConfigErrors(errs)
			}
			p, err := bind(reduceName, nil, aggs, reduceAggKey(cfg), inputs[0])
			if err != nil {
				return nil, err
			}
			return p.out, nil
		},
		Examples: []flow.Example{
			{
				Title:  "Total revenue",
				Config: "column = \"amount\"\noperation = \"sum\"\noutput_column = \"revenue\"\n",
				Input:  "{\"amount\":10}\n{\"amount\":null}\n{\"amount\":32}\n",
				Output: "{\"revenue\":42}\n",
			},
			{
				Title: "Several figures at once",
				Config: `aggregations = [
  { operation = "count" },
  { column = "city", operation = "count_distinct", output_column = "cities" },
  { column = "city", operation = "min" },
]
`,
				Input:  "{\"city\":\"Zürich\"}\n{\"city\":\"Ålesund\"}\n{\"city\":\"Berlin\"}\n{\"city\":\"Berlin\"}\n",
				Output: "{\"count\":4,\"cities\":3,\"city_min\":\"Berlin\"}\n",
			},
		},
	}
}

func reduceAggKey(cfg flow.Config) string {
	if cfg.Has("aggregations") {
		return "aggregations"
	}
	if cfg.Has("column") {
		return "column"
	}
	return "operation"
}
