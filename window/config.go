package window

import (
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/aggregate"
)

// Column and port names.
const (
	ColStart = "window_start"
	ColEnd   = "window_end"
	// ColID numbers count windows in the two-stage form (window.apply
	// without aggregations), so that aggregate.stream tells apart count
	// windows whose start and end times are equal.
	ColID    = "window_id"
	PortLate = "late"
)

const (
	applyName  = "window.apply"
	streamName = "aggregate.stream"
)

// kind is a window type.
type kind uint8

const (
	kTumbling kind = iota
	kSliding
	kSession
	kCount
	kExplicit // aggregate.stream: windows given by window_start/window_end
)

func (k kind) String() string {
	return [...]string{"tumbling", "sliding", "session", "count", "explicit"}[k]
}

// none is "no time / no watermark yet"; endOfTime is the watermark +∞.
const (
	none      = math.MinInt64
	endOfTime = math.MaxInt64
)

// settings is a validated window configuration (times in µs).
type settings struct {
	stage          string
	kind           kind
	size           int64 // tumbling, sliding
	slide          int64 // sliding
	gap            int64 // session
	count          int   // rows per count window
	timeCol        string
	procTime       bool // no time column: processing time from the clock
	delay          int64
	lateness       int64
	idle           time.Duration
	groupBy        []string
	aggs           []aggregate.Aggregation // nil: rows mode (two-stage form)
	update         bool
	dropOnShutdown bool
}

func us(d time.Duration) int64 { return d.Microseconds() }

// parseApply reads window.apply's configuration.
func parseApply(cfg flow.Config) (*settings, []*flow.ConfigError) {
	s := &settings{stage: applyName, timeCol: cfg.Str("time_column")}
	var errs []*flow.ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &flow.ConfigError{Key: key, Message: applyName + ": " + fmt.Sprintf(format, args...)})
	}
	s.procTime = s.timeCol == ""
	typ := cfg.Str("type")
	if typ == "" {
		typ = "tumbling"
	}
	// size: a duration, or an integer (rows for count windows and for the
	// original count form; seconds otherwise).
	var sizeDur time.Duration
	sizeRows := int64(-1)
	if cfg.Has("size") {
		switch v := cfg["size"].(type) {
		case int64:
			sizeRows = v
			sizeDur = time.Duration(v) * time.Second
		case float64:
			sizeDur = time.Duration(v * float64(time.Second))
		case string:
			d, err := flow.ParseDuration(v)
			if err != nil {
				bad("size", "size: %v", err)
			}
			sizeDur = d
		case time.Duration:
			sizeDur = v
		default:
			bad("size", "size must be a duration such as \"1m\" or an integer, got %T", v)
		}
	}
	switch typ {
	case "tumbling":
		s.kind = kTumbling
		if sizeRows >= 0 && s.procTime {
			// The original form: `type = "tumbling", size = 3` without a
			// time column is a count window of 3 rows.
			s.kind, s.count = kCount, int(sizeRows)
		}
	case "sliding":
		s.kind = kSliding
	case "session":
		s.kind = kSession
	case "count":
		s.kind = kCount
		if sizeRows < 0 && cfg.Has("size") {
			bad("size", "count windows need an integer size (rows per window)")
		}
		s.count = int(sizeRows)
	default:
		bad("type", "unknown window type %q (tumbling, sliding, session, count)", typ)
	}
	switch s.kind {
	case kTumbling, kSliding:
		if !cfg.Has("size") {
			bad("size", "%s windows need a size (e.g. \"1m\")", typ)
		} else if sizeDur < time.Microsecond {
			bad("size", "size must be at least 1µs")
		}
		s.size = us(sizeDur)
	case kCount:
		if !cfg.Has("size") {
			bad("size", "count windows need a size (rows per window)")
		} else if s.count < 1 {
			bad("size", "size must be at least 1 row")
		}
	}
	if s.kind == kSliding {
		slide := cfg.Duration("slide")
		if !cfg.Has("slide") {
			bad("slide", "sliding windows need a slide (e.g. \"1m\")")
		} else if slide < time.Microsecond {
			bad("slide", "slide must be at least 1µs")
		} else if s.size > 0 && us(slide) > s.size {
			bad("slide", "slide (%s) must not exceed size (%s)", slide, sizeDur)
		} else if s.size > 0 && s.size/us(slide) > 1000 {
			bad("slide", "size/slide is %d: each row would land in more than 1000 windows", s.size/us(slide))
		}
		s.slide = us(slide)
	} else if cfg.Has("slide") {
		bad("slide", "slide applies to sliding windows only")
	}
	if s.kind == kSession {
		gap := cfg.Duration("gap")
		if !cfg.Has("gap") {
			if cfg.Has("size") && sizeDur > 0 {
				gap = sizeDur // tolerate size as the gap
			} else {
				bad("gap", "session windows need a gap (e.g. \"5m\")")
			}
		}
		if gap < time.Microsecond && len(errs) == 0 {
			bad("gap", "gap must be at least 1µs")
		}
		s.gap = us(gap)
	} else if cfg.Has("gap") {
		bad("gap", "gap applies to session windows only")
	}
	s.delay = us(cfg.Duration("watermark_delay"))
	s.lateness = us(cfg.Duration("allowed_lateness"))
	s.idle = cfg.Duration("idle_timeout")
	if s.delay < 0 || s.lateness < 0 || s.idle < 0 {
		bad("watermark_delay", "durations must not be negative")
	}
	if s.procTime {
		s.delay, s.lateness = 0, 0 // processing time is never late
	}
	s.groupBy = cfg.Strings("group_by")
	s.update = cfg.Str("emit") == "update"
	s.dropOnShutdown = cfg.Str("on_shutdown") == "drop"
	if cfg.Has("aggregations") {
		aggs, aerrs := aggregate.ParseAggregations(applyName, flow.Config{"aggregations": cfg["aggregations"]})
		errs = append(errs, aerrs...)
		s.aggs = aggs
		if s.aggs == nil {
			s.aggs = []aggregate.Aggregation{}
		}
		errs = append(errs, checkNames(applyName, s.groupBy, s.aggs)...)
	}
	return s, errs
}

// checkNames rejects output columns that collide.
func checkNames(stage string, groupBy []string, aggs []aggregate.Aggregation) []*flow.ConfigError {
	var errs []*flow.ConfigError
	seen := map[string]bool{ColStart: true, ColEnd: true}
	for _, k := range groupBy {
		if seen[k] {
			errs = append(errs, &flow.ConfigError{Key: "group_by", Message: fmt.Sprintf("%s: %v %q in the output", stage, operators.ErrDuplicateColumn, k)})
		}
		seen[k] = true
	}
	for _, a := range aggs {
		if seen[a.Output] {
			errs = append(errs, &flow.ConfigError{Key: "aggregations", Message: fmt.Sprintf("%s: %v %q in the output (set output_column)", stage, operators.ErrDuplicateColumn, a.Output)})
		}
		seen[a.Output] = true
	}
	return errs
}

// parseStream reads aggregate.stream's configuration.
func parseStream(cfg flow.Config) (*settings, []*flow.ConfigError) {
	s := &settings{stage: streamName, kind: kExplicit, groupBy: cfg.Strings("group_by"), idle: cfg.Duration("idle_timeout")}
	aggs, errs := aggregate.ParseAggregations(streamName, cfg)
	if len(aggs) == 0 && len(errs) == 0 {
		errs = append(errs, &flow.ConfigError{Key: "aggregations", Message: streamName + ": give aggregations, or operation and column"})
	}
	s.aggs = aggs
	errs = append(errs, checkNames(streamName, s.groupBy, aggs)...)
	return s, errs
}

// ---- binding to an input schema ----

// timeKind says how the time column is read.
type timeKind uint8

const (
	tNone timeKind = iota
	tTimestamp
	tEpochMS
)

// binding is a configuration bound to one input schema.
type binding struct {
	schema   *arrow.Schema
	timeIdx  int
	timeKind timeKind
	timeUnit arrow.TimeUnit
	startIdx int // explicit windows
	endIdx   int
	idIdx    int // -1: none
	keyIdx   []int
	keyTypes []arrow.DataType
	aggIdx   []int // -1: count of rows
	aggTypes []arrow.DataType
	out      *arrow.Schema
}

func names(schema *arrow.Schema) []string {
	out := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		out[i] = f.Name
	}
	return out
}

func unknown(stage, key string, schema *arrow.Schema, name string) error {
	n := names(schema)
	return &flow.ParamError{Key: key, Err: &operators.UnknownColumnError{Stage: stage, Column: name, Suggestion: flow.Nearest(name, n), Available: n}}
}

func fieldIndex(schema *arrow.Schema, name string) int {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0]
	}
	return -1
}

func isTime(dt arrow.DataType) bool { return dt.ID() == arrow.TIMESTAMP }

// bind resolves the configured columns in schema and derives the output
// schema.
func (s *settings) bind(schema *arrow.Schema) (*binding, error) {
	b := &binding{schema: schema, timeIdx: -1, startIdx: -1, endIdx: -1, idIdx: -1}
	var fields []arrow.Field
	if s.kind == kExplicit {
		for _, c := range []string{ColStart, ColEnd} {
			i := fieldIndex(schema, c)
			if i < 0 {
				return nil, &flow.ParamError{Key: "group_by", Err: fmt.Errorf("%s: the input has no %q column (aggregate.stream follows window.apply without aggregations): %w", s.stage, c, operators.ErrUnknownColumn)}
			}
			if !isTime(schema.Field(i).Type) && !arrow.IsInteger(schema.Field(i).Type.ID()) {
				return nil, &flow.ParamError{Key: "group_by", Err: fmt.Errorf("%s: column %q is %s, want a timestamp: %w", s.stage, c, schema.Field(i).Type, operators.ErrTypeMismatch)}
			}
			if c == ColStart {
				b.startIdx = i
			} else {
				b.endIdx = i
			}
		}
		if i := fieldIndex(schema, ColID); i >= 0 && arrow.IsInteger(schema.Field(i).Type.ID()) {
			b.idIdx = i
		}
	}
	if s.timeCol != "" {
		i := fieldIndex(schema, s.timeCol)
		if i < 0 {
			return nil, unknown(s.stage, "time_column", schema, s.timeCol)
		}
		dt := schema.Field(i).Type
		switch {
		case isTime(dt):
			b.timeKind, b.timeUnit = tTimestamp, dt.(*arrow.TimestampType).Unit
		case arrow.IsInteger(dt.ID()):
			b.timeKind = tEpochMS
		default:
			return nil, &flow.ParamError{Key: "time_column", Err: fmt.Errorf("%s: time_column %q is %s; want a timestamp or integer epoch milliseconds: %w", s.stage, s.timeCol, dt, operators.ErrTypeMismatch)}
		}
		b.timeIdx = i
	}
	for _, k := range s.groupBy {
		i := fieldIndex(schema, k)
		if i < 0 {
			return nil, unknown(s.stage, "group_by", schema, k)
		}
		dt := schema.Field(i).Type
		if err := aggregate.KeySupported(dt); err != nil {
			return nil, &flow.ParamError{Key: "group_by", Err: fmt.Errorf("%s: key column %q: %w", s.stage, k, err)}
		}
		b.keyIdx = append(b.keyIdx, i)
		b.keyTypes = append(b.keyTypes, dt)
	}
	if s.aggs == nil {
		// Rows mode: the input columns, then the window's bounds.
		fields = append(fields, schema.Fields()...)
		for _, c := range []string{ColStart, ColEnd} {
			if fieldIndex(schema, c) >= 0 {
				return nil, &flow.ParamError{Key: "aggregations", Err: fmt.Errorf("%s: %w: the input already has a %q column", s.stage, operators.ErrDuplicateColumn, c)}
			}
		}
		fields = append(fields, arrow.Field{Name: ColStart, Type: batch.Timestamp, Nullable: true}, arrow.Field{Name: ColEnd, Type: batch.Timestamp, Nullable: true})
		if s.kind == kCount {
			fields = append(fields, arrow.Field{Name: ColID, Type: arrow.PrimitiveTypes.Int64, Nullable: true})
		}
		b.out = arrow.NewSchema(fields, nil)
		return b, nil
	}
	fields = append(fields, arrow.Field{Name: ColStart, Type: batch.Timestamp, Nullable: true}, arrow.Field{Name: ColEnd, Type: batch.Timestamp, Nullable: true})
	for i, k := range s.groupBy {
		fields = append(fields, arrow.Field{Name: k, Type: aggregate.KeyOutputType(b.keyTypes[i]), Nullable: true})
	}
	for _, a := range s.aggs {
		idx := -1
		var in arrow.DataType
		if a.Column != "" {
			idx = fieldIndex(schema, a.Column)
			if idx < 0 {
				return nil, unknown(s.stage, "aggregations", schema, a.Column)
			}
			in = schema.Field(idx).Type
		}
		rt, err := aggregate.ResultType(a.Operation, in)
		if err != nil {
			return nil, &flow.ParamError{Key: "aggregations", Err: fmt.Errorf("%s: column %q: %w", s.stage, a.Column, err)}
		}
		b.aggIdx = append(b.aggIdx, idx)
		b.aggTypes = append(b.aggTypes, in)
		fields = append(fields, arrow.Field{Name: a.Output, Type: rt, Nullable: true})
	}
	b.out = arrow.NewSchema(fields, nil)
	return b, nil
}

// uses lists the input columns the stage reads (nil: all of them).
func (s *settings) uses() []string {
	if s.aggs == nil {
		return nil
	}
	var out []string
	add := func(c string) {
		for _, x := range out {
			if x == c {
				return
			}
		}
		out = append(out, c)
	}
	if s.kind == kExplicit {
		add(ColStart)
		add(ColEnd)
		add(ColID)
	}
	if s.timeCol != "" {
		add(s.timeCol)
	}
	for _, k := range s.groupBy {
		add(k)
	}
	for _, a := range s.aggs {
		if a.Column != "" {
			add(a.Column)
		}
	}
	return out
}
