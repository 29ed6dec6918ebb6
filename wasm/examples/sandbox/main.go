// Command sandbox is a Conveyor WASM plugin that misbehaves on purpose: it
// reads and writes files, spins, hoards memory, panics and exits, so that
// tests (and curious users) can watch the host's sandbox hold.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sandbox.wasm .
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/wasm/guest"
)

func init() {
	pathParam := []guest.Param{{Name: "path", Type: "str", Required: true, Doc: "File path as the guest sees it."}}
	guest.Register(guest.Plugin{
		Name:        "sandbox",
		Version:     "1.0.0",
		Description: "Stages that test the WASM sandbox: file access, runaway loops, memory, crashes.",
		Stages: []guest.Stage{
			{
				Name: "sandbox.read_file", Kind: guest.KindTransform,
				Summary:     "Replace each batch by one row holding a file's content.",
				Description: "Reads path on every batch and emits {content}; fails when the file cannot be read (it lies outside the plugin's allow_read/allow_write mounts, for instance).",
				Params:      pathParam,
				New: func(cfg guest.Config) (guest.Processor, error) {
					path := cfg.Str("path")
					return guest.ProcessFunc(func(arrow.RecordBatch) (arrow.RecordBatch, error) {
						b, err := os.ReadFile(path)
						if err != nil {
							return nil, err
						}
						return stringRow("content", string(b)), nil
					}), nil
				},
			},
			{
				Name: "sandbox.write_file", Kind: guest.KindTransform,
				Summary:     "Write each batch's row count to a file, passing the batch on.",
				Description: "Writes the row count to path; fails when the path is not under an allow_write mount.",
				Params:      pathParam,
				New: func(cfg guest.Config) (guest.Processor, error) {
					path := cfg.Str("path")
					return guest.ProcessFunc(func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
						if err := os.WriteFile(path, []byte(fmt.Sprint(in.NumRows())), 0o644); err != nil {
							return nil, err
						}
						return in, nil
					}), nil
				},
			},
			{
				Name: "sandbox.spin", Kind: guest.KindTransform,
				Summary:     "Loop forever.",
				Description: "Never returns: only the plugin's timeout stops it.",
				New: guest.Func(func(arrow.RecordBatch) (arrow.RecordBatch, error) {
					for {
						spins++
					}
				}),
			},
			{
				Name: "sandbox.hog", Kind: guest.KindTransform,
				Summary:     "Allocate memory until there is none.",
				Description: "Keeps allocating 1 MiB blocks: only the plugin's memory limit stops it.",
				New: guest.Func(func(arrow.RecordBatch) (arrow.RecordBatch, error) {
					for {
						block := make([]byte, 1<<20)
						block[0] = 1
						hoard = append(hoard, block)
					}
				}),
			},
			{
				Name: "sandbox.env", Kind: guest.KindTransform,
				Summary:     "Emit the value of environment variables.",
				Description: "Emits one row with a string column per name (null when the variable is not visible).",
				Params:      []guest.Param{{Name: "names", Type: "list", Required: true, Doc: "Variable names."}},
				New: func(cfg guest.Config) (guest.Processor, error) {
					names := cfg.Strings("names")
					return guest.ProcessFunc(func(arrow.RecordBatch) (arrow.RecordBatch, error) {
						fields := make([]arrow.Field, len(names))
						cols := make([]arrow.Array, len(names))
						for i, n := range names {
							b := array.NewStringBuilder(guest.Allocator)
							if v, ok := os.LookupEnv(n); ok {
								b.Append(v)
							} else {
								b.AppendNull()
							}
							fields[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true}
							cols[i] = b.NewArray()
							b.Release()
						}
						return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 1), nil
					}), nil
				},
			},
			{
				Name: "sandbox.fail", Kind: guest.KindTransform,
				Summary:     "Fail batches that contain a flagged row, pass the others.",
				Description: "A batch with a true value in the bool column `bad` fails with an error; with `panic = true` the stage panics instead.",
				Params:      []guest.Param{{Name: "panic", Type: "bool", Default: false, Doc: "Panic instead of returning an error."}},
				New: func(cfg guest.Config) (guest.Processor, error) {
					doPanic := cfg.Bool("panic")
					return guest.ProcessFunc(func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
						idx := in.Schema().FieldIndices("bad")
						if len(idx) == 0 {
							return in, nil
						}
						col := in.Column(idx[0]).(*array.Boolean)
						for i := 0; i < col.Len(); i++ {
							if col.IsValid(i) && col.Value(i) {
								if doPanic {
									panic(fmt.Sprintf("row %d is bad", i))
								}
								return nil, fmt.Errorf("row %d is bad", i)
							}
						}
						return in, nil
					}), nil
				},
			},
			{
				Name: "sandbox.crash_once", Kind: guest.KindTransform,
				Summary:     "Exit the instance the first time, then pass batches through.",
				Description: "If the marker file does not exist, creates it and exits the whole instance (as a crash would); otherwise passes batches through.",
				Params:      []guest.Param{{Name: "marker", Type: "str", Required: true, Doc: "Marker file under an allow_write mount."}},
				New: func(cfg guest.Config) (guest.Processor, error) {
					marker := cfg.Str("marker")
					return guest.ProcessFunc(func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
						if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
							if err := os.WriteFile(marker, nil, 0o644); err != nil {
								return nil, err
							}
							os.Exit(3)
						}
						return in, nil
					}), nil
				},
			},
			{
				Name: "sandbox.strict", Kind: guest.KindTransform,
				Summary:     "Refuse a config at validation.",
				Description: "Its limit parameter must be even: the check runs inside the plugin.",
				Params:      []guest.Param{{Name: "limit", Type: "int", Default: 2, Doc: "An even number."}},
				Validate: func(cfg guest.Config) error {
					if cfg.Int("limit")%2 != 0 {
						return fmt.Errorf("limit must be even, got %d", cfg.Int("limit"))
					}
					return nil
				},
				New: guest.Func(func(in arrow.RecordBatch) (arrow.RecordBatch, error) { return in, nil }),
			},
		},
	})
}

func main() {}

var (
	spins int
	hoard [][]byte
)

func stringRow(name, v string) arrow.RecordBatch {
	b := array.NewStringBuilder(guest.Allocator)
	defer b.Release()
	b.Append(v)
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: name, Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{col}, 1)
}
