package mongodb

import (
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds the MongoDB sources, sinks and mongodb.toObjectId.
func Register(r *flow.Registry) {
	for _, op := range []string{"find", "findOne", "aggregate"} {
		r.Register(sourceSpec(op))
	}
	for _, op := range []string{"insertOne", "insertMany", "updateOne", "updateMany", "deleteOne", "deleteMany", "replaceOne", "replaceMany", "bulkWrite"} {
		r.Register(sinkSpec(op))
	}
	r.Register(objectIDSpec())
}

// ExampleURI is the address in the stages' examples; tests replace it
// with a live server's.
const ExampleURI = "mongodb://127.0.0.1:27017"

var connParams = []flow.Param{
	{Name: "uri", Type: flow.TypeString, Required: true, Aliases: []string{"connection_string"},
		Doc: "MongoDB connection string (mongodb:// or mongodb+srv://). One client (connection pool) per URI is shared by every stage."},
	{Name: "database", Type: flow.TypeString, Required: true, Doc: "Database; may use {{ column }} templates."},
	{Name: "collection", Type: flow.TypeString, Required: true, Doc: "Collection; may use {{ column }} templates."},
	{Name: "max_pool_size", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Most connections of the shared client (0: the driver's default, 100)."},
	{Name: "min_pool_size", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Connections kept open."},
	{Name: "connect_timeout", Type: flow.TypeDuration, Default: "10s", Doc: "How long to wait for the server before failing with an error naming it."},
	{Name: "batch_size", Type: flow.TypeInt, Default: int64(1000), Min: flow.F(1), Doc: "Documents per cursor batch (sources) or per bulk write (sinks); rows per emitted batch."},
}

func pool(cfg flow.Config) poolOptions {
	return poolOptions{maxPool: uint64(cfg.Int("max_pool_size")), minPool: uint64(cfg.Int("min_pool_size")), connectTimeout: cfg.Duration("connect_timeout")}
}

func parseDoc(cfg flow.Config, key string) (bson.D, error) {
	text := cfg.Str(key)
	if text == "" {
		return nil, nil
	}
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(text), false, &d); err != nil {
		return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("not a JSON object: %w", err)}
	}
	return d, nil
}

func sourceSpec(op string) *flow.Spec {
	params := append([]flow.Param{}, connParams...)
	summary := map[string]string{
		"find":      "Read the documents of a collection matching a query, in batches.",
		"findOne":   "Read the first document matching a query.",
		"aggregate": "Read the results of an aggregation pipeline.",
	}[op]
	example := flow.Example{Title: "Orders over 100, newest first", Config: fmt.Sprintf("uri = %q\ndatabase = \"shop\"\ncollection = \"orders\"\nquery = '{\"amount\": {\"$gt\": 100}}'\nsort = '{\"amount\": -1}'\nprojection = '{\"_id\": 0}'", ExampleURI),
		Output: "{\"id\":3,\"amount\":250,\"customer\":{\"name\":\"ana\",\"tier\":\"gold\"},\"tags\":[\"new\",\"vip\"]}\n{\"id\":2,\"amount\":120,\"customer\":{\"name\":\"bo\",\"tier\":\"std\"},\"tags\":[]}\n"}
	switch op {
	case "aggregate":
		params = append(params, flow.Param{Name: "pipeline", Type: flow.TypeString, Required: true,
			Doc: "The aggregation pipeline, a JSON array of stages (extended JSON accepted); may use {{ column }} templates."})
		example = flow.Example{Title: "Total amount per tier", Config: fmt.Sprintf("uri = %q\ndatabase = \"shop\"\ncollection = \"orders\"\npipeline = '[{\"$group\": {\"_id\": \"$customer.tier\", \"total\": {\"$sum\": \"$amount\"}}}, {\"$sort\": {\"_id\": 1}}]'", ExampleURI),
			Output: "{\"_id\":\"gold\",\"total\":250}\n{\"_id\":\"std\",\"total\":170}\n"}
	default:
		params = append(params,
			flow.Param{Name: "query", Type: flow.TypeString, Default: "{}", Aliases: []string{"filter"},
				Doc: "Filter as a JSON object (extended JSON accepted: {\"$oid\": ...}, {\"$date\": ...}); may use {{ column }} templates."},
			flow.Param{Name: "projection", Type: flow.TypeString, Doc: "Projection as a JSON object."},
			flow.Param{Name: "sort", Type: flow.TypeString, Doc: "Sort as a JSON object ({\"field\": 1 or -1})."},
		)
		if op == "find" {
			params = append(params, flow.Param{Name: "limit", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0), Doc: "Most documents read (0: all)."})
		} else {
			example.Title = "The largest order"
			example.Output = "{\"id\":3,\"amount\":250,\"customer\":{\"name\":\"ana\",\"tier\":\"gold\"},\"tags\":[\"new\",\"vip\"]}\n"
		}
	}
	params = append(params, flow.Param{Name: "infer_docs", Type: flow.TypeInt, Default: int64(1000), Min: flow.F(1),
		Doc: "Documents read before the schema is fixed (their fields' union, types widened); a later document that does not fit is rejected with the reason."})
	return &flow.Spec{
		Name: "mongodb." + op, Kind: flow.KindSource, MinInputs: -1, MaxInputs: 1,
		Summary: summary,
		Description: `Reads documents through a cursor (batch_size at a time, so memory stays flat on a large
collection) and emits them as rows. BSON maps to Arrow as documented in docs/mongodb.md:
ObjectId → string marked objectid, dates → timestamp, int32/int64/double, decimal128 →
exact text, nested documents → struct (JSON text when their shapes differ), arrays →
list; documents with differing fields give one schema with nulls.

With an input, the stage is a lookup: query (or pipeline), database and collection may
name input columns as {{ column }}; the stage runs once per distinct rendering over the
input rows (values are inserted as JSON literals in query and pipeline, as text in names).
A wrong URI, an unreachable server or an invalid query fails the stage with a clear error.`,
		Tags:   []string{"mongodb", "database"},
		Params: params,
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			r := &reader{op: op, uri: cfg.Str("uri"), pool: pool(cfg), batchSize: cfg.Int("batch_size"), limit: int64(cfg.Int("limit")),
				inferDocs: max(cfg.Int("infer_docs"), 1),
				db:        newTemplate("database", cfg.Str("database"), false), coll: newTemplate("collection", cfg.Str("collection"), false)}
			if op == "aggregate" {
				r.pipeline = newTemplate("pipeline", cfg.Str("pipeline"), true)
			} else {
				r.query = newTemplate("query", cfg.Str("query"), true)
				if !r.query.dynamic() && r.query.text != "" {
					if _, err := parseDoc(cfg, "query"); err != nil {
						return nil, err
					}
				}
				var err error
				if r.projection, err = parseDoc(cfg, "projection"); err != nil {
					return nil, err
				}
				if r.sortSpec, err = parseDoc(cfg, "sort"); err != nil {
					return nil, err
				}
			}
			return r, nil
		},
		Examples: []flow.Example{example},
	}
}

func sinkSpec(op string) *flow.Spec {
	params := append([]flow.Param{}, connParams...)
	doc := map[string]string{
		"insertOne":   "Insert each row as a document.",
		"insertMany":  "Insert the rows as documents, in bulk.",
		"updateOne":   "Update the first document matching each row's query.",
		"updateMany":  "Update every document matching each row's query.",
		"deleteOne":   "Delete the first document matching each row's query.",
		"deleteMany":  "Delete every document matching each row's query.",
		"replaceOne":  "Replace the document matching each row's query with the row.",
		"replaceMany": "Replace, for each row, the document its query matches with the row.",
		"bulkWrite":   "Per row, the write named by its operation column (insert, update, updateMany, replace, delete, deleteMany).",
	}[op]
	needsQuery := op != "insertOne" && op != "insertMany"
	if needsQuery {
		params = append(params, flow.Param{Name: "query", Type: flow.TypeString, Aliases: []string{"filter"},
			Doc: "Filter template, a JSON object with {{ column }} placeholders (default: {\"_id\": <the row's _id>})."})
	}
	if op == "updateOne" || op == "updateMany" || op == "bulkWrite" {
		params = append(params, flow.Param{Name: "update", Type: flow.TypeString,
			Doc: "Update template, a JSON object ({\"$set\": {...}}) or pipeline with {{ column }} placeholders (default: $set of the row's columns but _id)."})
	}
	if op != "insertOne" && op != "insertMany" && op != "deleteOne" && op != "deleteMany" {
		params = append(params, flow.Param{Name: "upsert", Type: flow.TypeBool, Default: false, Doc: "Insert when nothing matches."})
	}
	if op == "bulkWrite" {
		params = append(params, flow.Param{Name: "operation_field", Type: flow.TypeString, Default: "operation",
			Doc: "Column naming each row's operation: insert, update, updateMany, replace, delete or deleteMany."})
	}
	params = append(params, flow.Param{Name: "ordered", Type: flow.TypeBool, Default: false,
		Doc: "Stop a bulk write at its first failing document (the rest of that bulk is not written) instead of writing every other one."})
	ex := flow.Example{Title: "Insert the rows", Config: fmt.Sprintf("uri = %q\ndatabase = \"shop\"\ncollection = \"archive\"", ExampleURI),
		Input: "{\"id\":1,\"amount\":20}\n{\"id\":2,\"amount\":35}\n"}
	switch op {
	case "updateOne", "updateMany":
		ex = flow.Example{Title: "Mark orders as paid", Config: fmt.Sprintf("uri = %q\ndatabase = \"shop\"\ncollection = \"orders\"\nquery = '{\"id\": {{ id }}}'\nupdate = '{\"$set\": {\"paid\": true}}'", ExampleURI),
			Input: "{\"id\":1}\n"}
	case "deleteOne", "deleteMany", "replaceOne", "replaceMany":
		ex = flow.Example{Title: "Match each row's document by id", Config: fmt.Sprintf("uri = %q\ndatabase = \"shop\"\ncollection = \"orders\"\nquery = '{\"id\": {{ id }}}'", ExampleURI),
			Input: "{\"id\":2,\"amount\":99}\n"}
	case "bulkWrite":
		ex = flow.Example{Title: "Mixed operations", Config: fmt.Sprintf("uri = %q\ndatabase = \"shop\"\ncollection = \"orders\"\nquery = '{\"id\": {{ id }}}'", ExampleURI),
			Input: "{\"operation\":\"insert\",\"id\":9,\"amount\":5}\n{\"operation\":\"delete\",\"id\":1,\"amount\":null}\n"}
	}
	return &flow.Spec{
		Name: "mongodb." + op, Kind: flow.KindSink,
		Summary: doc,
		Description: doc + ` Rows become documents as in docs/mongodb.md (timestamps → dates, columns marked
objectid by mongodb.toObjectId → ObjectIds, structs → documents, lists → arrays, JSON
columns → nested values; null values are left out). Writes go in bulk writes of
batch_size; a document the server refuses goes to the dead-letter output with the
server's error and the others are written (ordered = false). A write returns once the
server acknowledged it, so acknowledgement barriers (Kafka commits) pass at once.`,
		Tags:   []string{"mongodb", "database"},
		Params: params,
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			w := &writer{op: op, uri: cfg.Str("uri"), pool: pool(cfg), batchSize: max(cfg.Int("batch_size"), 1),
				upsert: cfg.Bool("upsert"), ordered: cfg.Bool("ordered"),
				db: newTemplate("database", cfg.Str("database"), false), coll: newTemplate("collection", cfg.Str("collection"), false)}
			if needsQuery {
				w.query = newTemplate("query", cfg.Str("query"), true)
			}
			if s := cfg.Str("update"); s != "" {
				w.update = newTemplate("update", s, true)
			}
			if op == "bulkWrite" {
				w.opField = cfg.Str("operation_field")
				if w.opField == "" {
					w.opField = "operation"
				}
			}
			return w, nil
		},
		Examples: []flow.Example{ex},
	}
}

func objectIDSpec() *flow.Spec {
	return &flow.Spec{
		Name: "mongodb.toObjectId", Kind: flow.KindTransform,
		Summary:     "Mark string columns of 24 hex digits as ObjectIds for the MongoDB sinks.",
		Description: "The named columns keep their text; their field metadata says they are ObjectIds, so the MongoDB sinks write them as ObjectId values (not strings). A value that is not 24 hex digits fails the batch (the error strategy decides).",
		Tags:        []string{"mongodb"},
		Params: []flow.Param{{Name: "columns", Type: flow.TypeStringOrList, Required: true, Aliases: []string{"fields", "column"},
			Doc: "The columns to mark."}},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return toObjectID{columns: cfg.Strings("columns")}, nil
		},
		Examples: []flow.Example{{Title: "Reference a customer document by id", Config: `columns = ["customer_id"]`,
			Input:  "{\"customer_id\":\"65a1f0c2e4b0a1b2c3d4e5f6\",\"amount\":10}\n",
			Output: "{\"customer_id\":\"65a1f0c2e4b0a1b2c3d4e5f6\",\"amount\":10}\n"}},
	}
}
