package generate

import (
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// The Nexmark event mix: per 50 events, 1 person, 3 auctions, 46 bids.
const (
	proportion    = 50
	personShare   = 1
	auctionShare  = 3
	firstID       = 1000
	hotRatio      = 100 // hot auctions / bidders are ids rounded down to this
	inFlight      = 100 // how far back a non-hot bid reaches
	eventPerson   = 0
	eventAuction  = 1
	eventBid      = 2
	auctionLength = 10 * time.Second
)

var (
	tsType = arrow.FixedWidthTypes.Timestamp_us
	str    = arrow.BinaryTypes.String
	i64    = arrow.PrimitiveTypes.Int64

	bidFields = []arrow.Field{
		{Name: "auction", Type: i64}, {Name: "bidder", Type: i64}, {Name: "price", Type: i64},
		{Name: "channel", Type: str}, {Name: "url", Type: str}, {Name: "date_time", Type: tsType}, {Name: "extra", Type: str},
	}
	auctionFields = []arrow.Field{
		{Name: "id", Type: i64}, {Name: "item_name", Type: str}, {Name: "description", Type: str},
		{Name: "initial_bid", Type: i64}, {Name: "reserve", Type: i64}, {Name: "date_time", Type: tsType},
		{Name: "expires", Type: tsType}, {Name: "seller", Type: i64}, {Name: "category", Type: i64}, {Name: "extra", Type: str},
	}
	personFields = []arrow.Field{
		{Name: "id", Type: i64}, {Name: "name", Type: str}, {Name: "email_address", Type: str},
		{Name: "credit_card", Type: str}, {Name: "city", Type: str}, {Name: "state", Type: str},
		{Name: "date_time", Type: tsType}, {Name: "extra", Type: str},
	}

	channels   = []string{"Google", "Facebook", "Baidu", "Apple"}
	channelURL = []string{
		"https://www.nexmark.com/google/item.htm?query=1&channel_id=0",
		"https://www.nexmark.com/facebook/item.htm?query=1&channel_id=1",
		"https://www.nexmark.com/baidu/item.htm?query=1&channel_id=2",
		"https://www.nexmark.com/apple/item.htm?query=1&channel_id=3",
	}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	cities     = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	states     = []string{"AZ", "CA", "CA", "ID", "OR", "OR", "WA", "WA", "WA", "WY"} // of cities
	items      = []string{"vintage camera", "road bike", "oak table", "first edition", "guitar", "watch", "rug", "lamp"}
)

// nexmark produces one of the Nexmark streams.
type nexmark struct {
	table    string
	seed     uint64
	interval int64 // µs between events
	start    int64 // µs
	out      *arrow.Schema
}

func newNexmark(table string, seed uint64, interval time.Duration) *nexmark {
	nx := &nexmark{table: table, seed: seed, interval: max(interval.Microseconds(), 0)}
	switch table {
	case "auction":
		nx.out = arrow.NewSchema(auctionFields, nil)
	case "person":
		nx.out = arrow.NewSchema(personFields, nil)
	case "all":
		fields := []arrow.Field{{Name: "event_type", Type: arrow.PrimitiveTypes.Int8}}
		for _, group := range []struct {
			prefix string
			fs     []arrow.Field
		}{{"person_", personFields}, {"auction_", auctionFields}, {"bid_", bidFields}} {
			for _, f := range group.fs {
				fields = append(fields, arrow.Field{Name: group.prefix + f.Name, Type: f.Type, Nullable: true})
			}
		}
		nx.out = arrow.NewSchema(fields, nil)
	default:
		nx.out = arrow.NewSchema(bidFields, nil)
	}
	if nx.interval == 0 && interval > 0 {
		nx.interval = 1
	}
	return nx
}

func (nx *nexmark) setStart(t time.Time) { nx.start = t.UnixMicro() }

func (nx *nexmark) schema() *arrow.Schema { return nx.out }

// kind is the kind of event n.
func kind(n int64) int {
	switch off := n % proportion; {
	case off < personShare:
		return eventPerson
	case off < personShare+auctionShare:
		return eventAuction
	}
	return eventBid
}

// lastPerson and lastAuction are the 0-based ids of the latest person and
// auction created at or before event n.
func lastPerson(n int64) int64 { return n / proportion }

func lastAuction(n int64) int64 {
	epoch, off := n/proportion, n%proportion
	if off < personShare {
		return epoch*auctionShare - 1
	}
	return epoch*auctionShare + min(off-personShare, auctionShare-1)
}

// bid computes the bid of event n.
func (nx *nexmark) bid(n int64) (auction, bidder, price int64, channel int) {
	r := mix(nx.seed, uint64(n))
	la, lp := lastAuction(n), lastPerson(n)
	if r&1 == 0 {
		auction = (la / hotRatio) * hotRatio
	} else {
		lo := max(la-inFlight, 0)
		auction = lo + below(r>>8, la-lo+1)
	}
	if (r>>1)&3 != 0 {
		bidder = (lp / hotRatio) * hotRatio
	} else {
		lo := max(lp-inFlight, 0)
		bidder = lo + below(r>>24, lp-lo+1)
	}
	price = logPrice(r * 0x9e3779b97f4a7c15)
	channel = int((r >> 40) & 3)
	return auction + firstID, bidder + firstID, price, channel
}

// priceSteps is a table of 10^(6k/priceLevels) dollars in cents, so that
// a log-uniform price costs a lookup and an interpolation, not a Pow.
const priceLevels = 4096

var priceSteps = func() [priceLevels + 1]float64 {
	var t [priceLevels + 1]float64
	for k := range t {
		t[k] = math.Pow(10, 6*float64(k)/priceLevels) * 100
	}
	return t
}()

// logPrice maps 64 random bits to a price in cents, log-uniform from $1
// to $1,000,000.
func logPrice(x uint64) int64 {
	k := x >> 52                                 // 12 bits: the step
	f := float64((x>>20)&0xffffffff) / (1 << 32) // the fraction within it
	lo, hi := priceSteps[k], priceSteps[k+1]
	return int64(lo + (hi-lo)*f + 0.5)
}

// below maps the low 32 bits of x to [0, n) by multiplication, not
// division.
func below(x uint64, n int64) int64 { return int64(((x & 0xffffffff) * uint64(n)) >> 32) }

func (nx *nexmark) at(n int64) int64 { return nx.start + n*nx.interval }

func (nx *nexmark) produce(st *flow.Stage, from, n int64) (arrow.RecordBatch, error) {
	switch nx.table {
	case "bid":
		return nx.bids(st.Alloc, from, n), nil
	}
	return nx.viaBuilders(st.Alloc, from, n), nil
}

// bids is the fast path of the bid stream: columns written directly.
func (nx *nexmark) bids(mem memory.Allocator, from, n int64) arrow.RecordBatch {
	rows := 0
	for e := from; e < from+n; e++ {
		if kind(e) == eventBid {
			rows++
		}
	}
	if rows == 0 {
		return nil
	}
	aBuf, bBuf, pBuf, tBuf := newBuf(mem, rows*8), newBuf(mem, rows*8), newBuf(mem, rows*8), newBuf(mem, rows*8)
	aV := arrow.Int64Traits.CastFromBytes(aBuf.Bytes())
	bV := arrow.Int64Traits.CastFromBytes(bBuf.Bytes())
	pV := arrow.Int64Traits.CastFromBytes(pBuf.Bytes())
	tV := arrow.TimestampTraits.CastFromBytes(tBuf.Bytes())
	ch := make([]uint8, rows)
	i := 0
	for e := from; e < from+n; e++ {
		if kind(e) != eventBid {
			continue
		}
		a, b, p, c := nx.bid(e)
		aV[i], bV[i], pV[i], tV[i], ch[i] = a, b, p, arrow.Timestamp(nx.at(e)), uint8(c)
		i++
	}
	cols := []arrow.Array{
		fixed(i64, rows, aBuf), fixed(i64, rows, bBuf), fixed(i64, rows, pBuf),
		pooled(mem, ch, channels), pooled(mem, ch, channelURL), fixed(tsType, rows, tBuf), emptyStrings(mem, rows),
	}
	rec := array.NewRecordBatch(nx.out, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// person fills the person of event n (0-based person id p).
func (nx *nexmark) person(n int64, b []array.Builder) {
	p := lastPerson(n)
	r := mix(nx.seed^0x27d4eb2f, uint64(p))
	first, last := firstNames[r%uint64(len(firstNames))], lastNames[(r>>8)%uint64(len(lastNames))]
	b[0].(*array.Int64Builder).Append(p + firstID)
	b[1].(*array.StringBuilder).Append(first + " " + last)
	b[2].(*array.StringBuilder).Append(lower(first) + "." + lower(last) + "@example.com")
	b[3].(*array.StringBuilder).Append(card(p + firstID))
	b[4].(*array.StringBuilder).Append(cities[(r>>16)%uint64(len(cities))])
	b[5].(*array.StringBuilder).Append(states[(r>>16)%uint64(len(cities))])
	b[6].(*array.TimestampBuilder).Append(arrow.Timestamp(nx.at(n)))
	b[7].(*array.StringBuilder).Append("")
}

// auction fills the auction of event n.
func (nx *nexmark) auction(n int64, b []array.Builder) {
	id := lastAuction(n)
	r := mix(nx.seed^0x165667b1, uint64(id))
	initial := int64(math.Round(math.Pow(10, unitFloat(r)*4) * 100))
	lp := lastPerson(n)
	seller := lp
	if r&3 != 0 {
		seller = (lp / hotRatio) * hotRatio
	}
	b[0].(*array.Int64Builder).Append(id + firstID)
	b[1].(*array.StringBuilder).Append(items[(r>>8)%uint64(len(items))])
	b[2].(*array.StringBuilder).Append("a fine " + items[(r>>8)%uint64(len(items))])
	b[3].(*array.Int64Builder).Append(initial)
	b[4].(*array.Int64Builder).Append(initial + int64((r>>16)%1000)*100)
	b[5].(*array.TimestampBuilder).Append(arrow.Timestamp(nx.at(n)))
	b[6].(*array.TimestampBuilder).Append(arrow.Timestamp(nx.at(n) + auctionLength.Microseconds()*int64(1+(r>>32)%6)))
	b[7].(*array.Int64Builder).Append(seller + firstID)
	b[8].(*array.Int64Builder).Append(10 + int64((r>>40)%5))
	b[9].(*array.StringBuilder).Append("")
}

func (nx *nexmark) bidRow(n int64, b []array.Builder) {
	a, bd, p, c := nx.bid(n)
	b[0].(*array.Int64Builder).Append(a)
	b[1].(*array.Int64Builder).Append(bd)
	b[2].(*array.Int64Builder).Append(p)
	b[3].(*array.StringBuilder).Append(channels[c])
	b[4].(*array.StringBuilder).Append(channelURL[c])
	b[5].(*array.TimestampBuilder).Append(arrow.Timestamp(nx.at(n)))
	b[6].(*array.StringBuilder).Append("")
}

// viaBuilders builds the person, auction and all streams.
func (nx *nexmark) viaBuilders(mem memory.Allocator, from, n int64) arrow.RecordBatch {
	rb := array.NewRecordBuilder(mem, nx.out)
	defer rb.Release()
	fs := rb.Fields()
	nulls := func(bs []array.Builder) {
		for _, b := range bs {
			b.AppendNull()
		}
	}
	np, na := len(personFields), len(auctionFields)
	for e := from; e < from+n; e++ {
		k := kind(e)
		switch nx.table {
		case "person":
			if k == eventPerson {
				nx.person(e, fs)
			}
		case "auction":
			if k == eventAuction {
				nx.auction(e, fs)
			}
		case "all":
			fs[0].(*array.Int8Builder).Append(int8(k))
			ps, as, bs := fs[1:1+np], fs[1+np:1+np+na], fs[1+np+na:]
			switch k {
			case eventPerson:
				nx.person(e, ps)
				nulls(as)
				nulls(bs)
			case eventAuction:
				nulls(ps)
				nx.auction(e, as)
				nulls(bs)
			default:
				nulls(ps)
				nulls(as)
				nx.bidRow(e, bs)
			}
		}
	}
	if fs[0].Len() == 0 {
		return nil
	}
	return rb.NewRecordBatch()
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// card is a fake, well-formed card number derived from the person id.
func card(id int64) string {
	d := []byte("4000 0000 0000 0000")
	for i := len(d) - 1; i >= 0 && id > 0; i-- {
		if d[i] == ' ' {
			continue
		}
		d[i] = byte('0' + id%10)
		id /= 10
	}
	return string(d)
}

func newBuf(mem memory.Allocator, n int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(n)
	return b
}

func fixed(t arrow.DataType, n int, buf *memory.Buffer) arrow.Array {
	d := array.NewData(t, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}

// pooled is a string column whose row i is pool[idx[i]].
func pooled(mem memory.Allocator, idx []uint8, pool []string) arrow.Array {
	total := 0
	for _, i := range idx {
		total += len(pool[i])
	}
	offs := newBuf(mem, (len(idx)+1)*4)
	data := newBuf(mem, total)
	ov := arrow.Int32Traits.CastFromBytes(offs.Bytes())
	dv := data.Bytes()
	pos := 0
	for r, i := range idx {
		ov[r] = int32(pos)
		pos += copy(dv[pos:], pool[i])
	}
	ov[len(idx)] = int32(pos)
	d := array.NewData(str, len(idx), []*memory.Buffer{nil, offs, data}, nil, 0, 0)
	offs.Release()
	data.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}

func emptyStrings(mem memory.Allocator, n int) arrow.Array {
	offs := newBuf(mem, (n+1)*4)
	clear(offs.Bytes())
	data := newBuf(mem, 0)
	d := array.NewData(str, n, []*memory.Buffer{nil, offs, data}, nil, 0, 0)
	offs.Release()
	data.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}
