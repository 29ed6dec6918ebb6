package parquet

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// emptyBatch is a batch without columns but with n rows.
func emptyBatch(schema *arrow.Schema, n int64) arrow.RecordBatch {
	return array.NewRecordBatch(schema, nil, n)
}
