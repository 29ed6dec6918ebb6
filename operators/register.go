package operators

import (
	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds filter.apply, map.apply and select.apply (with their legacy
// aliases transform.filter, transform.map and transform.select) to r. It
// panics if one of the names is already registered.
func Register(r *flow.Registry) {
	r.Register(FilterSpec())
	r.Register(MapSpec())
	r.Register(SelectSpec())
}

// FilterSpec returns filter.apply's spec (a new value on each call).
func FilterSpec() *flow.Spec {
	return &flow.Spec{
		Name:    filterName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.filter"},
		Tags:    []string{"relational", "vectorized"},
		Summary: "Keep the rows where a condition holds.",
		Description: `The original form compares one column with a constant: column, operator and value.
The constant is converted once to the column's type: an integer column compared with a
float value compares numerically (amount > 10.5 keeps 11 and up), a timestamp or date
column takes an RFC 3339 string ("2024-05-01T12:00:00Z", or a date "2024-05-01"), a
TOML date-time, or an integer in the column's unit (days for date32, milliseconds for
date64). Strings compare byte-wise (lexicographic for < <= > >=); "contains" is a
substring test on string columns; "in" takes a list and keeps rows equal to one of
its elements. A value that cannot be compared with the column (a number against a
string column, "contains" on a number column) is an error naming the column.

Nulls never match (SQL semantics): a null row fails every operator, "!=" included.
NaN follows IEEE 754: it fails every comparison except "!=".

When every row passes, the input batch is passed through unchanged (no copy); when no
row passes, nothing is emitted.

The expression form takes a condition in the expression language (docs/expressions.md):
expr = "amount >= 1000 and country in ('US', 'CA')". It is compiled once per input schema
into a vectorized program; an unknown column, a type error (comparing a string with an int)
or a condition that is not true/false is reported by ` + "`conveyor validate`" + `, pointing at
the column in the expression. Rows where the condition is null are dropped (SQL WHERE).
Exactly one of expr or column/operator/value must be given.`,
		Params: []flow.Param{
			{Name: "column", Type: flow.TypeString, Doc: "Column to test."},
			{Name: "operator", Type: flow.TypeString, Allowed: []string{"==", "=", "!=", "<>", ">", ">=", "<", "<=", "contains", "in"},
				Doc: "Comparison: == (or =), != (or <>), >, >=, <, <=, contains (substring, strings only), in (value is a list)."},
			{Name: "value", Type: flow.TypeAny, Doc: "Constant compared with the column: a number, string, bool, date-time (RFC 3339 string or TOML date-time), or a list for `in`."},
			{Name: "expr", Type: flow.TypeString, Doc: "Condition in the expression language, instead of column/operator/value."},
		},
		Check:  checkFilter,
		New:    newFilter,
		Schema: filterSchema,
		Uses:   filterUses,
		Examples: []flow.Example{
			{
				Title:  "Keep large orders (int column against a float value)",
				Config: "column = \"amount\"\noperator = \">\"\nvalue = 10.5\n",
				Input:  "{\"id\":1,\"amount\":10}\n{\"id\":2,\"amount\":11}\n{\"id\":3,\"amount\":null}\n{\"id\":4,\"amount\":250}\n",
				Output: "{\"id\":2,\"amount\":11}\n{\"id\":4,\"amount\":250}\n",
			},
			{
				Title:  "Keep some countries",
				Config: "column = \"country\"\noperator = \"in\"\nvalue = [\"FR\", \"DE\"]\n",
				Input:  "{\"country\":\"FR\",\"n\":1}\n{\"country\":\"US\",\"n\":2}\n{\"country\":\"DE\",\"n\":3}\n",
				Output: "{\"country\":\"FR\",\"n\":1}\n{\"country\":\"DE\",\"n\":3}\n",
			},
			{
				Title:  "Substring match",
				Config: "column = \"email\"\noperator = \"contains\"\nvalue = \"@example.com\"\n",
				Input:  "{\"email\":\"ann@example.com\"}\n{\"email\":\"bob@test.org\"}\n",
				Output: "{\"email\":\"ann@example.com\"}\n",
			},
			{
				Title:  "An expression: large orders from North America, or any VIP",
				Config: "expr = \"(amount >= 1000 and country in ('US', 'CA')) or lower(tier) = 'vip'\"\n",
				Input:  "{\"amount\":1500,\"country\":\"US\",\"tier\":null}\n{\"amount\":1500,\"country\":\"FR\",\"tier\":\"basic\"}\n{\"amount\":20,\"country\":\"FR\",\"tier\":\"VIP\"}\n{\"amount\":null,\"country\":\"CA\",\"tier\":null}\n",
				Output: "{\"amount\":1500,\"country\":\"US\",\"tier\":null}\n{\"amount\":20,\"country\":\"FR\",\"tier\":\"VIP\"}\n",
			},
		},
	}
}

// MapSpec returns map.apply's spec (a new value on each call).
func MapSpec() *flow.Spec {
	return &flow.Spec{
		Name:    mapName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.map"},
		Tags:    []string{"relational", "vectorized"},
		Summary: "Compute columns: one arithmetic operation, or expressions.",
		Description: `The original form computes output_column from expression, which is one operation
"<operand> <op> <operand>" with op one of + - * / %, or a single operand (a copy).
Operands are column names (letters, digits, _ and .; quote other names with double
quotes or backquotes) or numeric literals: "price * qty", "amount * 1.1", "clicks + 1".

The result is int64 when both operands are integers and op is + - * or %, and float64
for / and whenever a float is involved. Nulls propagate (a null operand gives a null
result). Division or modulo by zero gives null. An int64 result that overflows gives
null; a float64 result that overflows gives ±Inf (IEEE 754). uint64 values above the
int64 range wrap in integer arithmetic.

The output column is appended, or replaces (in place) a column of the same name; the
other columns are shared with the input, not copied.

The table form computes several columns with the expression language (docs/expressions.md):
[stages.config.columns] total = "price * qty * (1 + tax)", label = "upper(country)". Entries
are evaluated in file order, each over the input plus the entries above it (so an entry may
use a column defined before it); each adds a column at the end, or replaces the column of the
same name in place. The types follow the language's rules (int arithmetic overflowing gives
null, division by zero gives null). Exactly one of columns or expression/output_column must
be given.`,
		Params: []flow.Param{
			{Name: "expression", Type: flow.TypeString, Doc: "One operation such as \"price * qty\", or a single column or number."},
			{Name: "output_column", Type: flow.TypeString, Doc: "Name of the computed column (replaced in place if it exists)."},
			{Name: "columns", Type: flow.TypeTable, Doc: "Table of name → expression in the expression language (evaluated in order), instead of expression/output_column."},
		},
		Check:  checkMap,
		New:    newMap,
		Schema: mapSchema,
		Uses:   mapUses,
		Examples: []flow.Example{
			{
				Title:  "Line total",
				Config: "expression = \"price * qty\"\noutput_column = \"total\"\n",
				Input:  "{\"price\":2.5,\"qty\":3}\n{\"price\":1.25,\"qty\":null}\n",
				Output: "{\"price\":2.5,\"qty\":3,\"total\":7.5}\n{\"price\":1.25,\"qty\":null,\"total\":null}\n",
			},
			{
				Title:  "Division gives a float; division by zero gives null",
				Config: "expression = \"clicks / views\"\noutput_column = \"rate\"\n",
				Input:  "{\"clicks\":1,\"views\":4}\n{\"clicks\":3,\"views\":0}\n",
				Output: "{\"clicks\":1,\"views\":4,\"rate\":0.25}\n{\"clicks\":3,\"views\":0,\"rate\":null}\n",
			},
			{
				Title:  "Replace a column in place",
				Config: "expression = \"clicks + 1\"\noutput_column = \"clicks\"\n",
				Input:  "{\"clicks\":1,\"page\":\"a\"}\n{\"clicks\":41,\"page\":\"b\"}\n",
				Output: "{\"clicks\":2,\"page\":\"a\"}\n{\"clicks\":42,\"page\":\"b\"}\n",
			},
			{
				Title:  "Several expressions, the second using the first",
				Config: "[columns]\ntotal = \"price * qty * (1 + tax)\"\nsize = \"case when total >= 100 then 'large' else 'small' end\"\ncountry = \"upper(trim(country))\"\n",
				Input:  "{\"price\":20,\"qty\":5,\"tax\":0.5,\"country\":\" fr \"}\n{\"price\":2,\"qty\":null,\"tax\":0,\"country\":\"us\"}\n",
				Output: "{\"price\":20,\"qty\":5,\"tax\":0.5,\"country\":\"FR\",\"total\":150,\"size\":\"large\"}\n{\"price\":2,\"qty\":null,\"tax\":0,\"country\":\"US\",\"total\":null,\"size\":\"small\"}\n",
			},
		},
	}
}

// SelectSpec returns select.apply's spec (a new value on each call).
func SelectSpec() *flow.Spec {
	return &flow.Spec{
		Name:    selectName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.select"},
		Tags:    []string{"relational", "zero-copy"},
		Summary: "Keep, reorder, drop and rename columns.",
		Description: `columns keeps the listed columns in the listed order; drop then removes columns; rename
(a table old → new) then renames. Every named column must exist in the input (an
unknown name is an error suggesting the nearest one), and the output must not have two
columns of the same name. At least one of the three must be given.

No data is copied: the output shares the input's column arrays.`,
		Params: []flow.Param{
			{Name: "columns", Type: flow.TypeStringOrList, Doc: "Columns to keep, in output order (default: all)."},
			{Name: "drop", Type: flow.TypeStringOrList, Doc: "Columns to remove."},
			{Name: "rename", Type: flow.TypeTable, Doc: "Table of old name → new name."},
		},
		Check:  checkSelect,
		New:    newSelect,
		Schema: selectSchema,
		Uses:   selectUses,
		Examples: []flow.Example{
			{
				Title:  "Keep and reorder",
				Config: "columns = [\"name\", \"id\"]\n",
				Input:  "{\"id\":1,\"name\":\"Ann\",\"secret\":\"x\"}\n",
				Output: "{\"name\":\"Ann\",\"id\":1}\n",
			},
			{
				Title:  "Drop and rename",
				Config: "drop = [\"secret\"]\nrename = { name = \"customer\" }\n",
				Input:  "{\"id\":1,\"name\":\"Ann\",\"secret\":\"x\"}\n",
				Output: "{\"id\":1,\"customer\":\"Ann\"}\n",
			},
		},
	}
}
