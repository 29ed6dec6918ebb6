package parquet

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/conveyor-etl/conveyor/batch"

	"github.com/conveyor-etl/conveyor/flow"
)

// Register adds parquet.read and parquet.write (legacy names
// source.parquet and sink.parquet) to r.
func Register(r *flow.Registry) {
	r.Register(ReadSpec())
	r.Register(WriteSpec())
}

// ReadSpec is the spec of parquet.read.
func ReadSpec() *flow.Spec {
	return &flow.Spec{
		Name: "parquet.read", Kind: flow.KindSource, Aliases: []string{"source.parquet"},
		Summary: "Read Parquet files",
		Description: "Reads Parquet files row group by row group, a batch at a time, so memory stays bounded by the batch size " +
			"whatever the file size. columns reads only the named top-level columns (in that order). With a glob, every " +
			"match is read in name order and schemas are unified by column name (int widens to float, incompatible types " +
			"become string, a column missing from a file is null there). Column types, time zones included, are kept as written.",
		Tags: []string{"file", "parquet"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true, Doc: "File to read; globs (*, ?, [..]) read every match in name order."},
			{Name: "columns", Type: flow.TypeStringOrList, Doc: "Columns to read (projection), in output order; default all."},
			{Name: "batch_size", Type: flow.TypeInt, Min: flow.F(1), Doc: "Rows per emitted batch (default: the pipeline's global batch_size)."},
		},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			if strings.TrimSpace(cfg.Str("path")) == "" {
				return []*flow.ConfigError{{Key: "path", Message: "must not be empty"}}
			}
			return nil
		},
		New:    newReader,
		Schema: readSchema,
		Examples: []flow.Example{{
			Title:  "Read two columns of every daily file",
			Config: "path = \"sales/*.parquet\"\ncolumns = [\"amount\", \"region\"]",
			Files: map[string]string{
				"sales/2024-05-01.parquet": exampleFile(`{"day":"2024-05-01","region":"eu","amount":12.5}`),
				"sales/2024-05-02.parquet": exampleFile(`{"day":"2024-05-02","region":"us","amount":3}`),
			},
			Output: `{"amount":12.5,"region":"eu"}` + "\n" + `{"amount":3,"region":"us"}` + "\n",
		}},
	}
}

// WriteSpec is the spec of parquet.write.
func WriteSpec() *flow.Spec {
	return &flow.Spec{
		Name: "parquet.write", Kind: flow.KindSink, Aliases: []string{"sink.parquet"},
		Summary: "Write rows to Parquet files, optionally partitioned",
		Description: "Writes the input as one Parquet file, with row groups of row_group_size rows, the Arrow schema stored " +
			"in the file metadata (so types and time zones read back exactly). With partition_by, path is a folder and rows " +
			"go to Hive-style sub-folders path/col=value/part-0.parquet (the partition columns are not repeated inside; " +
			"nulls go to col=" + HiveNull + "; at most " + fmt.Sprint(MaxPartitions) + " partitions per run). " +
			"Every file is written under a temporary name and renamed when the input ends; a failed run leaves no new file. " +
			"An input without rows writes no file. Encodings are chosen per column from the first batch: columns " +
			"are dictionary-encoded, except integer or date columns whose first 8192 values are ascending and mostly " +
			"distinct, and timestamp columns whose first 8192 values are mostly distinct: those are written without a " +
			"dictionary, as BYTE_STREAM_SPLIT (Parquet format 2.11; older readers such as Spark before parquet-mr 1.14 may " +
			"not read it: set encoding = \"compatible\" to write only dictionary and plain encodings).",
		Tags: []string{"file", "parquet"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true, Doc: "Target file, or root folder with partition_by; parent folders are created."},
			{Name: "compression", Type: flow.TypeString, Default: "zstd", Allowed: []string{"zstd", "snappy", "none"}, Doc: "Column chunk compression."},
			{Name: "row_group_size", Type: flow.TypeInt, Default: int64(DefaultRowGroupSize), Min: flow.F(1),
				Doc: "Rows per row group; a row group is buffered in memory before it is written."},
			{Name: "partition_by", Type: flow.TypeStringOrList, Doc: "Columns whose values choose the Hive-style folder of each row."},
			{Name: "encoding", Type: flow.TypeString, Default: "auto", Allowed: []string{"auto", "compatible"},
				Doc: "auto: per-column choice described above (fastest, smaller files); compatible: dictionary and plain encodings only, readable by every Parquet reader."},
		},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			if strings.TrimSpace(cfg.Str("path")) == "" {
				return []*flow.ConfigError{{Key: "path", Message: "must not be empty"}}
			}
			return nil
		},
		New: newWriter,
		Examples: []flow.Example{
			{
				Title:  "Write a zstd-compressed file",
				Config: `path = "out/sales.parquet"`,
				Input:  `{"region":"eu","amount":12.5}` + "\n" + `{"region":"us","amount":3}` + "\n",
			},
			{
				Title:  "Partition by region",
				Config: "path = \"out/sales\"\npartition_by = [\"region\"]",
				Input:  `{"region":"eu","amount":12.5}` + "\n" + `{"region":"us","amount":3}` + "\n",
			},
		},
	}
}

// exampleFile returns the bytes of a small Parquet file holding ndjson's
// rows, for examples (binary content in Example.Files).
func exampleFile(ndjson string) string {
	mem := memory.NewGoAllocator()
	b, err := batch.FromNDJSON(mem, ndjson, nil)
	if err != nil {
		panic(err)
	}
	defer b.Release()
	var buf bytes.Buffer
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Zstd), pq.WithAllocator(mem))
	fw, err := pqarrow.NewFileWriter(b.Schema(), &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err == nil {
		err = fw.Write(b)
		if cerr := fw.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		panic(err)
	}
	return buf.String()
}
