package generate

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The Nexmark event mix: every epoch of 50 events is 1 person (offset
// 0), then 3 auctions (offsets 1-3), then 46 bids (offsets 4-49).
const (
	epochEvents      = 50
	auctionsPerEpoch = 3
	firstBid         = 1 + auctionsPerEpoch // offset of the first bid of an epoch
	firstID          = 1000                 // the first person and auction ids
	hotRatio         = 100                  // hot auctions / persons: the latest id rounded down to this
	recent           = 100                  // how far back a non-hot choice reaches
	auctionLength    = 10 * time.Second     // expires = date_time + 1 to 6 of these

	eventPerson  = 0
	eventAuction = 1
	eventBid     = 2
)

var (
	tsType = arrow.FixedWidthTypes.Timestamp_us // µs, UTC: the engine's timestamp
	str    = arrow.BinaryTypes.String
	i64    = arrow.PrimitiveTypes.Int64

	personFields = []arrow.Field{
		{Name: "id", Type: i64}, {Name: "name", Type: str}, {Name: "email_address", Type: str},
		{Name: "credit_card", Type: str}, {Name: "city", Type: str}, {Name: "state", Type: str},
		{Name: "date_time", Type: tsType}, {Name: "extra", Type: str},
	}
	auctionFields = []arrow.Field{
		{Name: "id", Type: i64}, {Name: "item_name", Type: str}, {Name: "description", Type: str},
		{Name: "initial_bid", Type: i64}, {Name: "reserve", Type: i64}, {Name: "date_time", Type: tsType},
		{Name: "expires", Type: tsType}, {Name: "seller", Type: i64}, {Name: "category", Type: i64}, {Name: "extra", Type: str},
	}
	bidFields = []arrow.Field{
		{Name: "auction", Type: i64}, {Name: "bidder", Type: i64}, {Name: "price", Type: i64},
		{Name: "channel", Type: str}, {Name: "url", Type: str}, {Name: "date_time", Type: tsType}, {Name: "extra", Type: str},
	}
)

// Column positions within each table.
const (
	pID, pName, pEmail, pCard, pCity, pState, pTime, pExtra                            = 0, 1, 2, 3, 4, 5, 6, 7
	aID, aItem, aDesc, aInitial, aReserve, aTime, aExpires, aSeller, aCategory, aExtra = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
	bAuction, bBidder, bPrice, bChannel, bURL, bTime, bExtra                           = 0, 1, 2, 3, 4, 5, 6
)

// The string pools (Nexmark draws these from small sets or random
// letters; a fixed pool keeps generation cheap and the output readable).
var (
	channels = newPool("Google", "Facebook", "Baidu", "Apple")
	urls     = newPool(
		"https://www.nexmark.com/google/item.htm?query=1&channel_id=0",
		"https://www.nexmark.com/facebook/item.htm?query=1&channel_id=1",
		"https://www.nexmark.com/baidu/item.htm?query=1&channel_id=2",
		"https://www.nexmark.com/apple/item.htm?query=1&channel_id=3",
	)
	firstNames    = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames     = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	names, emails = func() (*pool, *pool) {
		var ns, es []string
		for _, f := range firstNames {
			for _, l := range lastNames {
				ns = append(ns, f+" "+l)
				es = append(es, strings.ToLower(f)+"."+strings.ToLower(l)+"@example.com")
			}
		}
		return newPool(ns...), newPool(es...)
	}()
	cities       = newPool("Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne")
	states       = newPool("AZ", "CA", "CA", "ID", "OR", "OR", "WA", "WA", "WA", "WY") // of the cities
	itemNames    = []string{"vintage camera", "road bike", "oak table", "first edition", "guitar", "watch", "rug", "lamp"}
	items        = newPool(itemNames...)
	descriptions = func() *pool {
		d := make([]string, len(itemNames))
		for i, s := range itemNames {
			d[i] = "a fine " + s
		}
		return newPool(d...)
	}()
)

// Salts keep the random streams of persons, auctions and bids apart.
const (
	saltPerson  = 0x27d4eb2f165667c5
	saltAuction = 0x165667b19e3779f9
	saltSecond  = 0x85ebca77c2b2ae3d
)

// nexmark produces one of the Nexmark streams.
type nexmark struct {
	table string
	seed  uint64
	clk   eventClock
	full  *arrow.Schema // the table's schema
	out   *arrow.Schema // the columns emitted (the projection)
	need  []bool        // per field of full

	// Per-batch state, reused.
	scratch []int64
	kinds   []int8
	person  personRows
	auction auctionRows
	bid     bidRows
}

// The columns of one table being filled for a batch. base is the
// table's first field in the output (all mode); v its validity (all mode:
// nil on the other kinds' rows); pool indexes stand for string columns.
type personRows struct {
	id, ts     i64s
	name, city []uint8 // pool indexes: name and email, city and state
	v          *validity
	base, rows int
	on         bool
}

type auctionRows struct {
	id, initial, reserve, ts, expires, seller, category i64s
	item                                                []uint8 // item_name and description
	v                                                   *validity
	base, rows                                          int
	on                                                  bool
}

type bidRows struct {
	auction, bidder, price, ts i64s
	channel                    []uint8 // channel and url
	v                          *validity
	base, rows                 int
	on                         bool
}

// newNexmark returns the producer of table ("bid" when empty) emitting
// the columns of cols (nil: all).
func newNexmark(table string, seed uint64, interval time.Duration, cols []string) *nexmark {
	if table == "" {
		table = "bid"
	}
	nx := &nexmark{table: table, seed: seed, clk: newEventClock(interval)}
	var fields []arrow.Field
	switch table {
	case "person":
		fields = personFields
	case "auction":
		fields = auctionFields
	case "all":
		fields = []arrow.Field{{Name: "event_type", Type: arrow.PrimitiveTypes.Int8}}
		nx.person.base = len(fields)
		fields = appendPrefixed(fields, "person_", personFields)
		nx.auction.base = len(fields)
		fields = appendPrefixed(fields, "auction_", auctionFields)
		nx.bid.base = len(fields)
		fields = appendPrefixed(fields, "bid_", bidFields)
	default:
		fields = bidFields
	}
	nx.full = arrow.NewSchema(fields, nil)
	nx.need = make([]bool, len(fields))
	var out []arrow.Field
	for i, f := range fields {
		nx.need[i] = cols == nil || slices.Contains(cols, f.Name)
		if nx.need[i] {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		// Nothing is read (a row count): keep the cheapest column.
		k := 0 // event_type, or the id of persons and auctions
		if table == "bid" {
			k = bPrice
		}
		nx.need[k] = true
		out = []arrow.Field{fields[k]}
	}
	nx.out = arrow.NewSchema(out, nil)
	nx.person.on = table == "person" || table == "all"
	nx.auction.on = table == "auction" || table == "all"
	nx.bid.on = table == "bid" || table == "all"
	return nx
}

func appendPrefixed(dst []arrow.Field, prefix string, fs []arrow.Field) []arrow.Field {
	for _, f := range fs {
		dst = append(dst, arrow.Field{Name: prefix + f.Name, Type: f.Type, Nullable: true})
	}
	return dst
}

func (nx *nexmark) setStart(us int64) { nx.clk.start = us }

func (nx *nexmark) eventTime(e int64) int64 { return nx.clk.at(e) }

// kindsBefore is the number of events of each kind among events [0, x).
func kindsBefore(x int64) (persons, auctions, bids int64) {
	ep, off := x/epochEvents, x%epochEvents
	persons = ep + min(off, 1)
	auctions = ep*auctionsPerEpoch + min(max(off-1, 0), auctionsPerEpoch)
	bids = ep*(epochEvents-firstBid) + max(off-firstBid, 0)
	return
}

func (nx *nexmark) produce(mem memory.Allocator, from, n int64) (arrow.RecordBatch, error) {
	end := from + n
	p0, a0, b0 := kindsBefore(from)
	p1, a1, b1 := kindsBefore(end)
	all := nx.table == "all"
	rows := int(n)
	switch nx.table {
	case "person":
		rows = int(p1 - p0)
	case "auction":
		rows = int(a1 - a0)
	case "bid":
		rows = int(b1 - b0)
	}
	if rows == 0 {
		return nil, nil
	}
	if cap(nx.scratch) < rows {
		nx.scratch = make([]int64, rows)
	}
	if nx.person.on {
		nx.fillPersons(mem, from, end, rows, all)
	}
	if nx.auction.on {
		nx.fillAuctions(mem, from, end, rows, all)
	}
	if nx.bid.on {
		nx.fillBids(mem, from, end, rows, all)
	}
	cols := make([]arrow.Array, 0, nx.out.NumFields())
	if all && nx.need[0] {
		if cap(nx.kinds) < rows {
			nx.kinds = make([]int8, rows)
		}
		k := nx.kinds[:rows]
		for i := range k {
			k[i] = eventBid
			if off := (from + int64(i)) % epochEvents; off == 0 {
				k[i] = eventPerson
			} else if off < firstBid {
				k[i] = eventAuction
			}
		}
		buf := newBuf(mem, rows)
		copy(buf.Bytes(), arrow.Int8Traits.CastToBytes(k))
		cols = append(cols, fixedArray(arrow.PrimitiveTypes.Int8, rows, nil, buf))
	}
	if nx.person.on {
		cols = nx.personColumns(mem, cols)
	}
	if nx.auction.on {
		cols = nx.auctionColumns(mem, cols)
	}
	if nx.bid.on {
		cols = nx.bidColumns(mem, cols)
	}
	rec := array.NewRecordBatch(nx.out, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// epochs calls f for each run of consecutive events [lo, hi) of one epoch
// that lie in [from, end) at offsets [offLo, offHi) of their epoch.
func epochs(from, end, offLo, offHi int64, f func(ep, lo, hi int64)) {
	for ep := from / epochEvents; ep*epochEvents < end; ep++ {
		lo, hi := max(from, ep*epochEvents+offLo), min(end, ep*epochEvents+offHi)
		if lo < hi {
			f(ep, lo, hi)
		}
	}
}

// recentID chooses among the last `recent` ids up to last (0-based) with
// 32 random bits.
func recentID(x uint64, last int64) int64 {
	lo := max(last-recent, 0)
	return lo + below(x, last-lo+1)
}

func hotID(last int64) int64 { return last / hotRatio * hotRatio }

// fillBids computes the bids of events [from, end) into the bid columns.
func (nx *nexmark) fillBids(mem memory.Allocator, from, end int64, rows int, all bool) {
	b := &nx.bid
	base := b.base
	b.rows = rows
	b.auction.alloc(mem, rows, nx.need[base+bAuction], all, nx.scratch)
	b.bidder.alloc(mem, rows, nx.need[base+bBidder], all, nx.scratch)
	b.price.alloc(mem, rows, nx.need[base+bPrice], all, nx.scratch)
	b.ts.alloc(mem, rows, nx.need[base+bTime], all, nx.scratch)
	if cap(b.channel) < rows {
		b.channel = make([]uint8, rows)
	}
	b.channel = b.channel[:rows]
	b.v = nil
	if all {
		b.v = newValidity(mem, rows)
		for i := range b.channel {
			b.channel[i] = noString
		}
	}
	auction, bidder, price, ts, channel := b.auction.v, b.bidder.v, b.price.v, b.ts.v, b.channel
	seed, clk := nx.seed, nx.clk
	i := 0
	for ep := from / epochEvents; ep*epochEvents < end; ep++ {
		lo, hi := max(from, ep*epochEvents+firstBid), min(end, ep*epochEvents+epochEvents)
		if lo >= hi {
			continue
		}
		if all {
			i = int(lo - from)
		}
		la, lp := ep*auctionsPerEpoch+auctionsPerEpoch-1, ep // the latest auction and person (0-based)
		hotA, hotP := hotID(la)+firstID, hotID(lp)+firstID
		loA, spanA := max(la-recent, 0)+firstID, uint64(la-max(la-recent, 0)+1)
		loP, spanP := max(lp-recent, 0)+firstID, uint64(lp-max(lp-recent, 0)+1)
		k := int(hi - lo)
		// One bounds check per run of bids, not per row.
		auction, bidder, price, ts, channel := auction[i:i+k], bidder[i:i+k], price[i:i+k], ts[i:i+k], channel[i:i+k]
		for j := range k {
			e := lo + int64(j)
			r := mix(seed, uint64(e))
			s := fmix(r + saltSecond)
			a := hotA // half of the bids: the hot auction
			if r&1 != 0 {
				a = loA + int64(((r>>32)*spanA)>>32)
			}
			bd := hotP // three in four: the hot bidder
			if (r>>1)&3 == 0 {
				bd = loP + int64(((s&0xffffffff)*spanP)>>32)
			}
			auction[j], bidder[j], price[j] = a, bd, logPrice(s)
			ts[j] = clk.at(e)
			channel[j] = uint8(r>>3) & 3
		}
		if b.v != nil {
			for j := range k {
				b.v.set(i + j)
			}
		}
		i += k
	}
}

func (nx *nexmark) bidColumns(mem memory.Allocator, cols []arrow.Array) []arrow.Array {
	b := &nx.bid
	n, base := b.rows, b.base
	for k := range bidFields {
		if !nx.need[base+k] {
			continue
		}
		switch k {
		case bAuction:
			cols = append(cols, b.auction.array(i64, n, b.v))
		case bBidder:
			cols = append(cols, b.bidder.array(i64, n, b.v))
		case bPrice:
			cols = append(cols, b.price.array(i64, n, b.v))
		case bChannel:
			cols = append(cols, channels.column(mem, b.channel, b.v))
		case bURL:
			cols = append(cols, urls.column(mem, b.channel, b.v))
		case bTime:
			cols = append(cols, b.ts.array(tsType, n, b.v))
		case bExtra:
			cols = append(cols, emptyStrings(mem, n, b.v))
		}
	}
	if b.v != nil {
		b.v.buf.Release()
		b.v = nil
	}
	return cols
}

// fillAuctions computes the auctions of events [from, end).
func (nx *nexmark) fillAuctions(mem memory.Allocator, from, end int64, rows int, all bool) {
	a := &nx.auction
	base := a.base
	a.rows = rows
	a.id.alloc(mem, rows, nx.need[base+aID], all, nx.scratch)
	a.initial.alloc(mem, rows, nx.need[base+aInitial], all, nx.scratch)
	a.reserve.alloc(mem, rows, nx.need[base+aReserve], all, nx.scratch)
	a.ts.alloc(mem, rows, nx.need[base+aTime], all, nx.scratch)
	a.expires.alloc(mem, rows, nx.need[base+aExpires], all, nx.scratch)
	a.seller.alloc(mem, rows, nx.need[base+aSeller], all, nx.scratch)
	a.category.alloc(mem, rows, nx.need[base+aCategory], all, nx.scratch)
	if cap(a.item) < rows {
		a.item = make([]uint8, rows)
	}
	a.item = a.item[:rows]
	a.v = nil
	if all {
		a.v = newValidity(mem, rows)
		for i := range a.item {
			a.item[i] = noString
		}
	}
	i := 0
	epochs(from, end, 1, firstBid, func(ep, lo, hi int64) {
		if all {
			i = int(lo - from)
		}
		lp := ep // the latest person
		for e := lo; e < hi; e++ {
			id := ep*auctionsPerEpoch + (e - ep*epochEvents - 1)
			r := mix(nx.seed^saltAuction, uint64(id))
			s := fmix(r + saltSecond)
			u := fmix(s + saltSecond)
			initial := logUniform(r, &initialSteps)
			t := nx.clk.at(e)
			seller := hotID(lp) // three in four: the hot seller
			if u&3 == 0 {
				seller = recentID(u>>32, lp)
			}
			a.id.v[i] = id + firstID
			a.initial.v[i] = initial
			a.reserve.v[i] = initial + below(s, 1000)*100
			a.ts.v[i] = t
			a.expires.v[i] = t + auctionLength.Microseconds()*(1+below(s>>32, 6))
			a.seller.v[i] = seller + firstID
			a.category.v[i] = 10 + below(r, 5)
			a.item[i] = uint8(below(u, int64(len(itemNames))))
			if a.v != nil {
				a.v.set(i)
			}
			i++
		}
	})
}

func (nx *nexmark) auctionColumns(mem memory.Allocator, cols []arrow.Array) []arrow.Array {
	a := &nx.auction
	n, base := a.rows, a.base
	for k := range auctionFields {
		if !nx.need[base+k] {
			continue
		}
		switch k {
		case aID:
			cols = append(cols, a.id.array(i64, n, a.v))
		case aItem:
			cols = append(cols, items.column(mem, a.item, a.v))
		case aDesc:
			cols = append(cols, descriptions.column(mem, a.item, a.v))
		case aInitial:
			cols = append(cols, a.initial.array(i64, n, a.v))
		case aReserve:
			cols = append(cols, a.reserve.array(i64, n, a.v))
		case aTime:
			cols = append(cols, a.ts.array(tsType, n, a.v))
		case aExpires:
			cols = append(cols, a.expires.array(tsType, n, a.v))
		case aSeller:
			cols = append(cols, a.seller.array(i64, n, a.v))
		case aCategory:
			cols = append(cols, a.category.array(i64, n, a.v))
		case aExtra:
			cols = append(cols, emptyStrings(mem, n, a.v))
		}
	}
	if a.v != nil {
		a.v.buf.Release()
		a.v = nil
	}
	return cols
}

// fillPersons computes the persons of events [from, end).
func (nx *nexmark) fillPersons(mem memory.Allocator, from, end int64, rows int, all bool) {
	p := &nx.person
	base := p.base
	p.rows = rows
	// The id is always kept: the credit card number is built from it.
	p.id.alloc(mem, rows, true, all, nx.scratch)
	p.ts.alloc(mem, rows, nx.need[base+pTime], all, nx.scratch)
	if cap(p.name) < rows {
		p.name, p.city = make([]uint8, rows), make([]uint8, rows)
	}
	p.name, p.city = p.name[:rows], p.city[:rows]
	p.v = nil
	if all {
		p.v = newValidity(mem, rows)
		for i := range p.name {
			p.name[i], p.city[i] = noString, noString
		}
	}
	i := 0
	epochs(from, end, 0, 1, func(ep, lo, hi int64) {
		if all {
			i = int(lo - from)
		}
		r := mix(nx.seed^saltPerson, uint64(ep))
		p.id.v[i] = ep + firstID
		p.ts.v[i] = nx.clk.at(lo)
		p.name[i] = uint8(below(r, int64(len(firstNames)*len(lastNames))))
		p.city[i] = uint8(below(r>>32, 10))
		if p.v != nil {
			p.v.set(i)
		}
		i++
	})
}

func (nx *nexmark) personColumns(mem memory.Allocator, cols []arrow.Array) []arrow.Array {
	p := &nx.person
	n, base := p.rows, p.base
	for k := range personFields {
		if !nx.need[base+k] {
			continue
		}
		switch k {
		case pID:
			p.id.buf.Retain() // kept for the card numbers
			cols = append(cols, fixedArray(i64, n, p.v, p.id.buf))
		case pName:
			cols = append(cols, names.column(mem, p.name, p.v))
		case pEmail:
			cols = append(cols, emails.column(mem, p.name, p.v))
		case pCard:
			cols = append(cols, nx.cards(mem))
		case pCity:
			cols = append(cols, cities.column(mem, p.city, p.v))
		case pState:
			cols = append(cols, states.column(mem, p.city, p.v))
		case pTime:
			cols = append(cols, p.ts.array(tsType, n, p.v))
		case pExtra:
			cols = append(cols, emptyStrings(mem, n, p.v))
		}
	}
	p.id.buf.Release()
	p.id.buf = nil
	if p.v != nil {
		p.v.buf.Release()
		p.v = nil
	}
	return cols
}

// cards is the credit_card column: 16 digits in groups of 4, a function
// of the person id (not a valid card number: the checksum is not made).
func (nx *nexmark) cards(mem memory.Allocator) arrow.Array {
	p := &nx.person
	const width = 19
	n := p.rows
	valid := n
	if p.v != nil {
		valid = p.v.valid
	}
	offs, data := newBuf(mem, (n+1)*4), newBuf(mem, valid*width)
	ov := arrow.Int32Traits.CastFromBytes(offs.Bytes())[:n+1]
	dv := data.Bytes()
	pos := int32(0)
	for i := range n {
		ov[i] = pos
		if p.name[i] == noString {
			continue // a null row (all mode)
		}
		x := mix(nx.seed^saltPerson^saltSecond, uint64(p.id.v[i]))
		d := dv[pos : pos+width]
		for j := width - 1; j >= 0; j-- {
			if j%5 == 4 {
				d[j] = ' '
				continue
			}
			d[j] = byte('0' + x%10)
			x /= 10
		}
		d[0] = '4'
		pos += width
	}
	ov[n] = pos
	return stringArray(n, p.v, offs, data)
}

// Prices: log-uniform, from a table of steps so that a price costs a
// lookup and an integer interpolation, not a math.Pow.
const priceLevels = 4096

type steps [priceLevels + 1]int64

func logSteps(lo, decades float64) (t steps) {
	for k := range t {
		t[k] = int64(math.Round(lo * math.Pow(10, decades*float64(k)/priceLevels)))
	}
	return t
}

var (
	bidSteps     = logSteps(100, 6) // cents: $1 to $1,000,000
	initialSteps = logSteps(100, 4) // cents: $1 to $10,000
)

// logUniform maps the high 32 bits of x to a value log-uniform over t:
// 12 bits choose the step, 20 bits interpolate within it.
func logUniform(x uint64, t *steps) int64 {
	k, f := x>>52, int64((x>>32)&0xfffff)
	lo, hi := t[k], t[k+1]
	return lo + ((hi-lo)*f+1<<19)>>20
}

func logPrice(x uint64) int64 { return logUniform(x, &bidSteps) }
