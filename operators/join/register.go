package join

import (
	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds join.apply (alias transform.join) and union.apply to r.
func Register(r *flow.Registry) {
	r.Register(JoinSpec())
	r.Register(UnionSpec())
}

// JoinSpec returns join.apply's spec (a new value on each call).
//
// Its examples hold two inputs in Input, separated by a line "---": the
// left input, then the right one.
func JoinSpec() *flow.Spec {
	return &flow.Spec{
		Name:    joinName,
		Kind:    flow.KindTransform,
		Aliases: []string{"transform.join"},
		Tags:    []string{"relational", "blocking"},
		Summary: "Hash join of two inputs (inner, left, right, full, semi, anti).",
		Description: `inputs = [left, right]. Rows match when every key is equal: on names key columns present
in both inputs, or left_on and right_on (lists of equal length) name them per side.

how: inner (matching pairs), left (plus unmatched left rows, right columns null), right
(plus unmatched right rows, left columns null), full (both), semi (left rows that have a
match, once each, left columns only), anti (left rows that have none, left columns only).
A left row matching several right rows gives one output row per match (many-to-many).

Output columns: the left columns, then the right ones. With on, the right key columns are
dropped (each key appears once; in right and full joins it takes the right value in rows
with no left row, and its type widens as union.apply's does). With left_on/right_on both
sides' keys are kept. A right column whose name is already taken gets suffix appended
("_right" by default); if that name is taken too, the join is an error.

Keys: null never matches (SQL), so a row with a null key only appears as an unmatched row.
Keys of one kind compare by value across widths (int32 with int64, float32 with float64,
string with large_string); integers of either sign and floats compare numerically (2 =
2.0; a value with no exact int64 form, such as 2.5 or NaN, matches nothing across those
types); NaN equals NaN and -0 equals 0 within floats. Temporal keys must have the same type.
Other combinations (a string with an integer) are errors reported by conveyor validate.

Execution: the right input is the build side, hashed entirely in memory (put the smaller
input on the right; the run summary reports the memory held). The left input streams
through the table. Both inputs are read concurrently, so a stage feeding both sides cannot
deadlock; left batches that arrive before the right input has ended are held until it
ends, later ones stream straight through. Output order: left rows in input order, each with its
matches in right input order; right and full joins then emit the unmatched right rows in
right input order. Watermarks are not forwarded. When an input sends no rows at all, its
columns are unknown and absent from the output.`,
		Params: []flow.Param{
			{Name: "on", Type: flow.TypeStringOrList, Doc: "Key column(s) with the same name in both inputs."},
			{Name: "left_on", Type: flow.TypeStringOrList, Doc: "Key column(s) of the left input (with right_on, instead of on)."},
			{Name: "right_on", Type: flow.TypeStringOrList, Doc: "Key column(s) of the right input, in the order of left_on."},
			{Name: "how", Type: flow.TypeString, Default: "inner", Allowed: []string{"inner", "left", "right", "full", "semi", "anti"}, Doc: "Join type."},
			{Name: "suffix", Type: flow.TypeString, Default: "_right", Doc: "Appended to the name of a right column that clashes with a left one."},
		},
		MinInputs: 2,
		MaxInputs: 2,
		Check:     checkJoin,
		New:       newJoin,
		Schema:    joinSchema,
		Examples: []flow.Example{
			{
				Title:  "Orders with their customer (inner join)",
				Config: "on = \"cust\"\n",
				Input: "{\"order\":1,\"cust\":10,\"amount\":5}\n{\"order\":2,\"cust\":20,\"amount\":7}\n{\"order\":3,\"cust\":30,\"amount\":1}\n{\"order\":4,\"cust\":10,\"amount\":2}\n" +
					"---\n{\"cust\":10,\"name\":\"Ann\"}\n{\"cust\":20,\"name\":\"Bob\"}\n{\"cust\":40,\"name\":\"Dan\"}\n",
				Output: "{\"order\":1,\"cust\":10,\"amount\":5,\"name\":\"Ann\"}\n{\"order\":2,\"cust\":20,\"amount\":7,\"name\":\"Bob\"}\n{\"order\":4,\"cust\":10,\"amount\":2,\"name\":\"Ann\"}\n",
			},
			{
				Title:  "Left join on keys of different names, with a name clash",
				Config: "left_on = \"author_id\"\nright_on = \"id\"\nhow = \"left\"\n",
				Input: "{\"id\":1,\"title\":\"Dune\",\"author_id\":7}\n{\"id\":2,\"title\":\"Emma\",\"author_id\":9}\n{\"id\":3,\"title\":\"Anon\",\"author_id\":null}\n" +
					"---\n{\"id\":7,\"name\":\"Herbert\"}\n{\"id\":8,\"name\":\"Austen\"}\n",
				Output: "{\"id\":1,\"title\":\"Dune\",\"author_id\":7,\"id_right\":7,\"name\":\"Herbert\"}\n{\"id\":2,\"title\":\"Emma\",\"author_id\":9,\"id_right\":null,\"name\":null}\n{\"id\":3,\"title\":\"Anon\",\"author_id\":null,\"id_right\":null,\"name\":null}\n",
			},
			{
				Title:  "Rows without a match (anti join)",
				Config: "on = [\"country\", \"sku\"]\nhow = \"anti\"\n",
				Input: "{\"country\":\"FR\",\"sku\":\"a\",\"qty\":1}\n{\"country\":\"FR\",\"sku\":\"b\",\"qty\":2}\n{\"country\":\"DE\",\"sku\":\"a\",\"qty\":3}\n" +
					"---\n{\"country\":\"FR\",\"sku\":\"a\"}\n{\"country\":\"DE\",\"sku\":\"b\"}\n",
				Output: "{\"country\":\"FR\",\"sku\":\"b\",\"qty\":2}\n{\"country\":\"DE\",\"sku\":\"a\",\"qty\":3}\n",
			},
			{
				Title:  "Full join: the key takes the right value where the left row is missing",
				Config: "on = \"k\"\nhow = \"full\"\n",
				Input:  "{\"k\":1,\"l\":\"x\"}\n{\"k\":2,\"l\":\"y\"}\n---\n{\"k\":2,\"r\":\"b\"}\n{\"k\":3,\"r\":\"c\"}\n",
				Output: "{\"k\":1,\"l\":\"x\",\"r\":null}\n{\"k\":2,\"l\":\"y\",\"r\":\"b\"}\n{\"k\":3,\"l\":null,\"r\":\"c\"}\n",
			},
		},
	}
}

// UnionSpec returns union.apply's spec (a new value on each call).
//
// Its examples hold their inputs in Input, separated by lines "---".
func UnionSpec() *flow.Spec {
	return &flow.Spec{
		Name:    unionName,
		Kind:    flow.KindTransform,
		Tags:    []string{"relational", "streaming"},
		Summary: "Concatenate several inputs, unifying their schemas by column name.",
		Description: `Passes on every batch of every input. Columns are matched by name: the output has every
column of every input, in order of first appearance; a column an input lacks is null in
its rows; a column with different types in different inputs gets the wider type (integers
of different widths → int64, integers with floats → float64, timestamps and dates →
timestamp, anything else → string), as batch unification does everywhere in Conveyor.

Order: within an input the order is kept; across inputs there is no ordering guarantee.
To know the unified schema before its first output batch, the stage holds the batches
that arrive before every input has sent one (at most 16 batches) and emits those in input
order (the first input's, then the second's...); after that, batches are passed on as they
arrive. An input still silent after 16 held batches, whose columns differ, makes the
schema of later batches wider than that of earlier ones. Watermarks: the minimum over the
inputs is forwarded.`,
		MinInputs: 2,
		New:       newUnion,
		Schema:    unionSchema,
		Examples: []flow.Example{
			{
				Title:  "Two inputs with different columns",
				Config: "",
				Input:  "{\"id\":1,\"name\":\"Ann\"}\n---\n{\"id\":2,\"email\":\"bob@example.com\"}\n",
				Output: "{\"id\":1,\"name\":\"Ann\",\"email\":null}\n{\"id\":2,\"name\":null,\"email\":\"bob@example.com\"}\n",
			},
			{
				Title:  "Integer and float columns widen to float",
				Config: "",
				Input:  "{\"v\":1}\n{\"v\":2}\n---\n{\"v\":2.5}\n",
				Output: "{\"v\":1}\n{\"v\":2}\n{\"v\":2.5}\n",
			},
		},
	}
}
