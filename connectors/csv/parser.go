package csvconn

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// parser turns chunks into batches; each worker owns one.
type parser struct {
	rd      *reader
	lay     *layout
	name    string
	kinds   []colKind // per output column
	byCol   []int     // output column → record field (-1: missing)
	nulls   nullTest
	fields  [][]byte
	esc     []byte
	qbuf    []byte
	tab     fieldTable
	rowLine []int64 // line of each row of tab
	rowRaw  [][2]int32
	bad     []int32
	valid   []bool
	keep    []int32
	// strBytes sums the bytes of each record field (sizes string columns).
	strBytes []int64
}

func (rd *reader) newParser(lay *layout, name string) *parser {
	n := lay.schema.NumFields()
	p := &parser{rd: rd, lay: lay, name: name, kinds: make([]colKind, n), byCol: make([]int, n),
		nulls: nullTest{empty: rd.nullE, other: rd.nullO}}
	for i, f := range lay.schema.Fields() {
		p.kinds[i] = kindOf(f.Type)
		p.byCol[i] = -1
	}
	for j, c := range lay.fieldCol {
		if c >= 0 {
			p.byCol[c] = j
		}
	}
	p.tab.stride = len(lay.fieldCol)
	p.strBytes = make([]int64, len(lay.fieldCol))
	return p
}

// close releases what the parser holds (nothing allocator-owned today).
func (p *parser) close() {}

func (p *parser) reject(res *result, line int64, raw []byte, err error) {
	res.rejLines = append(res.rejLines, line)
	res.rejects = append(res.rejects, flow.Rejection{
		Err: err, Source: p.name + ":" + strconv.FormatInt(line, 10), Raw: string(raw)})
}

// parse parses every record of c into one batch.
func (p *parser) parse(c *chunk) *result {
	res := &result{}
	sc := &p.rd.sc
	p.tab.b = p.tab.b[:0]
	p.tab.rows = 0
	p.rowLine = p.rowLine[:0]
	p.rowRaw = p.rowRaw[:0]
	clear(p.strBytes)
	if sc.quote != 0 && bytes.IndexByte(c.data, sc.quote) >= 0 {
		p.splitQuoted(c, res)
	} else {
		p.splitPlain(c, res)
	}
	if p.tab.rows > 0 {
		split := len(res.rejects)
		res.rec = p.build(c, res)
		if split > 0 && len(res.rejects) > split {
			// Malformed records were reported while splitting, bad values
			// while building: put them back in line order.
			idx := make([]int, len(res.rejects))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return res.rejLines[idx[a]] < res.rejLines[idx[b]] })
			out := make([]flow.Rejection, len(idx))
			for i, k := range idx {
				out[i] = res.rejects[k]
			}
			res.rejects = out
		}
	}
	return res
}

// splitPlain is the hot path: a chunk without quote characters, split in
// one pass over its bytes.
func (p *parser) splitPlain(c *chunk, res *result) {
	data := c.data
	n := len(data)
	comment := p.rd.sc.comment
	dm := uint64(p.rd.sc.delim) * swarLo
	want := p.tab.stride
	line := c.line - 1
	b := p.tab.b
	for pos := 0; pos < n; {
		line++
		rs := pos
		row := len(b)
		fs := pos
		i := pos
		for {
			i = nextDelimOrNL(data, i, dm)
			if i >= n || data[i] == '\n' {
				break
			}
			b = append(b, int32(fs), int32(i))
			i++
			fs = i
		}
		end := i
		pos = i + 1
		if end > rs && data[end-1] == '\r' {
			end--
		}
		fs = min(fs, end)
		b = append(b, int32(fs), int32(end))
		nf := (len(b) - row) / 2
		if (nf == 1 && end == rs) || (comment != 0 && data[rs] == comment) {
			b = b[:row]
			continue // blank or comment line
		}
		if nf != want {
			b = b[:row]
			p.reject(res, line, data[rs:end], fmt.Errorf("record has %d fields, want %d", nf, want))
			continue
		}
		p.rowLine = append(p.rowLine, line)
		p.rowRaw = append(p.rowRaw, [2]int32{int32(rs), int32(end)})
		for k := range p.strBytes {
			p.strBytes[k] += int64(b[row+2*k+1] - b[row+2*k])
		}
	}
	p.tab.b = b
	p.tab.src = data
	p.tab.rows = len(p.rowLine)
}

// splitQuoted handles chunks holding quote characters: fields are
// unescaped into one scratch buffer the field table points into.
func (p *parser) splitQuoted(c *chunk, res *result) {
	sc := &p.rd.sc
	data := c.data
	line := c.line
	want := p.tab.stride
	buf := p.qbuf[:0]
	b := p.tab.b
	for pos := 0; pos < len(data); {
		start := line
		n := sc.recordEnd(data[pos:])
		if n < 0 {
			n = len(data) - pos
		}
		rec := data[pos : pos+n]
		rs := pos
		pos += n
		line += int64(bytes.Count(rec, []byte{'\n'}))
		body := trimEOL(rec)
		if len(body) == 0 || (sc.comment != 0 && body[0] == sc.comment) {
			continue
		}
		var err error
		p.fields, p.esc, err = sc.splitQuoted(body, p.fields, p.esc)
		if err == nil && len(p.fields) != want {
			err = fmt.Errorf("record has %d fields, want %d", len(p.fields), want)
		}
		if err != nil {
			p.reject(res, start, body, err)
			continue
		}
		for k, f := range p.fields {
			p.strBytes[k] += int64(len(f))
			b = append(b, int32(len(buf)))
			buf = append(buf, f...)
			b = append(b, int32(len(buf)))
		}
		p.rowLine = append(p.rowLine, start)
		p.rowRaw = append(p.rowRaw, [2]int32{int32(rs), int32(rs + len(body))})
	}
	p.tab.b = b
	p.tab.src = buf
	p.tab.rows = len(p.rowLine)
	p.qbuf = buf[:0]
}

// build parses the field table column by column into a batch; rows with a
// value that does not fit are rejected and left out.
func (p *parser) build(c *chunk, res *result) arrow.RecordBatch {
	mem := p.rd.mem
	t := &p.tab
	rows := t.rows
	if cap(p.bad) < rows {
		p.bad = make([]int32, rows)
		p.valid = make([]bool, rows*len(p.kinds))
	}
	p.bad = p.bad[:rows]
	clear(p.bad)
	if len(p.valid) < rows*len(p.kinds) {
		p.valid = make([]bool, rows*len(p.kinds))
	}
	fixed := make([]*fixedCol, len(p.kinds))
	strs := make([]*strCol, len(p.kinds))
	for i, k := range p.kinds {
		j := p.byCol[i]
		switch {
		case j < 0:
		case k == kString:
			strs[i] = newStr(mem, rows, int(p.strBytes[j]), p.valid[i*rows:(i+1)*rows])
		default:
			fixed[i] = newFixed(mem, k, rows, p.valid[i*rows:(i+1)*rows])
		}
	}
	// Column by column within blocks of rows small enough to stay in cache.
	const block = 2048
	for r0 := 0; r0 < rows; r0 += block {
		r1 := min(r0+block, rows)
		for i, j := range p.byCol {
			if fixed[i] != nil {
				fixed[i].parseRange(t, j, r0, r1, &p.nulls, p.bad)
			} else if strs[i] != nil {
				strs[i].fillRange(t, j, r0, r1, &p.nulls)
			}
		}
	}
	var keep []int32
	anyBad := false
	for r, b := range p.bad {
		if b == 0 {
			continue
		}
		anyBad = true
		j := int(b - 1)
		col := p.lay.fieldCol[j]
		raw := c.data[p.rowRaw[r][0]:p.rowRaw[r][1]]
		p.reject(res, p.rowLine[r], raw, &batch.ValueError{
			Column: p.lay.schema.Field(col).Name, Value: string(t.field(r, j)), Type: p.lay.schema.Field(col).Type})
	}
	if anyBad {
		keep = p.keep[:0]
		if keep == nil {
			keep = make([]int32, 0, rows)
		}
		for r, b := range p.bad {
			if b == 0 {
				keep = append(keep, int32(r))
			}
		}
		p.keep = keep
		for _, f := range fixed {
			if f != nil {
				f.compact(keep)
			}
		}
	}
	n := rows
	if keep != nil {
		n = len(keep)
	}
	arrs := make([]arrow.Array, len(p.kinds))
	for i, k := range p.kinds {
		typ := p.lay.schema.Field(i).Type
		switch {
		case p.byCol[i] < 0:
			arrs[i] = nullArray(mem, typ, n)
		case k == kString && keep != nil:
			strs[i].release()
			arrs[i] = stringArray(mem, t, p.byCol[i], keep, &p.nulls, p.valid[i*rows:(i+1)*rows])
		case k == kString:
			arrs[i] = strs[i].array(mem)
		default:
			arrs[i] = fixed[i].array(mem, typ)
		}
	}
	var rec arrow.RecordBatch
	if n > 0 {
		rec = array.NewRecordBatch(p.lay.schema, arrs, int64(n))
	}
	for _, a := range arrs {
		a.Release()
	}
	return rec
}
