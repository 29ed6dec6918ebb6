package generate

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func nexmarkCfg(table string, count int64, extra map[string]any) map[string]any {
	cfg := map[string]any{"mode": "nexmark", "nexmark_table": table, "count": count,
		"start_time": "2024-05-01T10:00:00Z", "seed": int64(3)}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// The event mix, the ids and their references, over the all stream: each
// person and auction id is the next one; a bid names an auction and a
// person already generated, among the last 100 or the hot one; an
// auction's seller too; event times advance by 100µs per event.
func TestNexmarkAllEvents(t *testing.T) {
	res := run(t, nexmarkCfg("all", 5000, map[string]any{"batch_size": int64(777)}), flow.BuildEnv{})
	var counts [3]int
	nextPerson, nextAuction := int64(1000), int64(1000)
	var hotAuctions, hotBidders, e int64
	for _, b := range res.Output {
		kind := column(t, b, "event_type").(*array.Int8)
		pid, aid := column(t, b, "person_id").(*array.Int64), column(t, b, "auction_id").(*array.Int64)
		seller, category := column(t, b, "auction_seller").(*array.Int64), column(t, b, "auction_category").(*array.Int64)
		aTime, expires := column(t, b, "auction_date_time").(*array.Timestamp), column(t, b, "auction_expires").(*array.Timestamp)
		initial, reserve := column(t, b, "auction_initial_bid").(*array.Int64), column(t, b, "auction_reserve").(*array.Int64)
		bAuction, bBidder, price := column(t, b, "bid_auction").(*array.Int64), column(t, b, "bid_bidder").(*array.Int64), column(t, b, "bid_price").(*array.Int64)
		bTime, pTime := column(t, b, "bid_date_time").(*array.Timestamp), column(t, b, "person_date_time").(*array.Timestamp)
		for i := range int(b.NumRows()) {
			k := kind.Value(i)
			counts[k]++
			// Exactly the columns of the event's kind are set.
			for j, f := range b.Schema().Fields()[1:] {
				prefix := [3]string{"person_", "auction_", "bid_"}[k]
				if b.Column(j+1).IsNull(i) == strings.HasPrefix(f.Name, prefix) {
					t.Fatalf("event %d (kind %d): %s null = %v", e, k, f.Name, b.Column(j+1).IsNull(i))
				}
			}
			want := may1.Add(time.Duration(e) * 100 * time.Microsecond).UnixMicro()
			switch k {
			case eventPerson:
				if pid.Value(i) != nextPerson || int64(pTime.Value(i)) != want {
					t.Fatalf("event %d: person %d at %d, want %d at %d", e, pid.Value(i), pTime.Value(i), nextPerson, want)
				}
				nextPerson++
			case eventAuction:
				if aid.Value(i) != nextAuction || int64(aTime.Value(i)) != want {
					t.Fatalf("event %d: auction %d at %d, want %d at %d", e, aid.Value(i), aTime.Value(i), nextAuction, want)
				}
				nextAuction++
				if s := seller.Value(i); s < max(nextPerson-1-recent, 1000) || s >= nextPerson {
					t.Fatalf("event %d: seller %d, next person %d", e, s, nextPerson)
				}
				if c := category.Value(i); c < 10 || c > 14 {
					t.Fatalf("event %d: category %d", e, c)
				}
				if d := time.Duration(expires.Value(i)-aTime.Value(i)) * time.Microsecond; d < auctionLength || d > 6*auctionLength {
					t.Fatalf("event %d: auction lasts %v", e, d)
				}
				if initial.Value(i) < 100 || initial.Value(i) > 1_000_000 || reserve.Value(i) < initial.Value(i) {
					t.Fatalf("event %d: initial bid %d, reserve %d", e, initial.Value(i), reserve.Value(i))
				}
			case eventBid:
				lastA, lastP := nextAuction-1, nextPerson-1
				a, p := bAuction.Value(i), bBidder.Value(i)
				if a != hotID(lastA-1000)+1000 && (a < max(lastA-recent, 1000) || a > lastA) {
					t.Fatalf("event %d: bid on auction %d, latest auction %d", e, a, lastA)
				}
				if p != hotID(lastP-1000)+1000 && (p < max(lastP-recent, 1000) || p > lastP) {
					t.Fatalf("event %d: bid by person %d, latest person %d", e, p, lastP)
				}
				if a == hotID(lastA-1000)+1000 {
					hotAuctions++
				}
				if p == hotID(lastP-1000)+1000 {
					hotBidders++
				}
				if pr := price.Value(i); pr < 100 || pr > 100_000_000 {
					t.Fatalf("event %d: price %d", e, pr)
				}
				if int64(bTime.Value(i)) != want {
					t.Fatalf("event %d: bid at %d, want %d", e, bTime.Value(i), want)
				}
			}
			e++
		}
	}
	if counts != [3]int{100, 300, 4600} {
		t.Errorf("person/auction/bid counts %v, want [100 300 4600]", counts)
	}
	// Half the bids on the hot auction (plus those the other half picks
	// by chance), three in four by the hot bidder.
	if f := float64(hotAuctions) / 4600; f < 0.48 || f > 0.6 {
		t.Errorf("%.2f of the bids on the hot auction", f)
	}
	if f := float64(hotBidders) / 4600; f < 0.72 || f > 0.82 {
		t.Errorf("%.2f of the bids by the hot bidder", f)
	}
}

// Each table holds exactly the rows of its kind of the all stream, and
// count counts events of every kind.
func TestNexmarkTablesMatchAll(t *testing.T) {
	const count = 1234 // 24 epochs and 34 events: 25 persons, 75 auctions, 1134 bids
	all := run(t, nexmarkCfg("all", count, map[string]any{"batch_size": int64(100)}), flow.BuildEnv{})
	for _, tc := range []struct {
		table  string
		kind   int8
		prefix string
		rows   int64
	}{{"person", eventPerson, "person_", 25}, {"auction", eventAuction, "auction_", 75}, {"bid", eventBid, "bid_", 1134}} {
		res := run(t, nexmarkCfg(tc.table, count, map[string]any{"batch_size": int64(333)}), flow.BuildEnv{})
		if n := rowCount(res.Output); n != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.table, n, tc.rows)
		}
		var got, want []string
		for _, b := range res.Output {
			for i := range int(b.NumRows()) {
				got = append(got, rowString(b, i, ""))
			}
		}
		for _, b := range all.Output {
			kind := column(t, b, "event_type").(*array.Int8)
			for i := range int(b.NumRows()) {
				if kind.Value(i) == tc.kind {
					want = append(want, rowString(b, i, tc.prefix))
				}
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s differs from the %s rows of all", tc.table, tc.table)
		}
	}
}

// rowString renders row i's columns whose names start with prefix, as
// name=value with the prefix removed.
func rowString(b arrow.RecordBatch, i int, prefix string) string {
	var sb strings.Builder
	for j, f := range b.Schema().Fields() {
		if name, ok := strings.CutPrefix(f.Name, prefix); ok && f.Name != "event_type" {
			sb.WriteString(name + "=" + b.Column(j).ValueStr(i) + " ")
		}
	}
	return sb.String()
}

// kindsBefore against counting the events one by one.
func TestKindsBefore(t *testing.T) {
	var p, a, b int64
	for x := int64(0); x <= 500; x++ {
		gp, ga, gb := kindsBefore(x)
		if gp != p || ga != a || gb != b {
			t.Fatalf("kindsBefore(%d) = %d %d %d, want %d %d %d", x, gp, ga, gb, p, a, b)
		}
		switch off := x % 50; {
		case off == 0:
			p++
		case off < 4:
			a++
		default:
			b++
		}
	}
}

// The same seed gives the same events whatever the batch size; another
// seed other ones (but the same ids and times: only choices change).
func TestNexmarkDeterminism(t *testing.T) {
	for _, table := range []string{"bid", "auction", "person", "all"} {
		a := run(t, nexmarkCfg(table, 3000, map[string]any{"batch_size": int64(777)}), flow.BuildEnv{})
		b := run(t, nexmarkCfg(table, 3000, nil), flow.BuildEnv{})
		c := run(t, nexmarkCfg(table, 3000, map[string]any{"seed": int64(4)}), flow.BuildEnv{})
		if batch.ToNDJSON(a.Output...) != batch.ToNDJSON(b.Output...) {
			t.Errorf("%s: the output depends on the batch size", table)
		}
		if batch.ToNDJSON(c.Output...) == batch.ToNDJSON(b.Output...) {
			t.Errorf("%s: another seed gave the same events", table)
		}
	}
}

// Only the columns read are built, with the same values, in the table's
// order; nothing read still counts the rows.
func TestNexmarkProjection(t *testing.T) {
	for _, tc := range []struct {
		table string
		read  []string
		want  string
	}{
		{"bid", []string{"price", "auction", "date_time"}, "auction,price,date_time"},
		{"bid", []string{"url", "extra"}, "url,extra"},
		{"bid", []string{}, "price"},
		{"auction", []string{"seller", "description"}, "description,seller"},
		{"person", []string{"credit_card", "state"}, "credit_card,state"},
		{"person", []string{}, "id"},
		{"all", []string{"bid_price", "person_name", "event_type"}, "event_type,person_name,bid_price"},
		{"all", []string{"auction_item_name"}, "auction_item_name"},
	} {
		full := run(t, nexmarkCfg(tc.table, 2000, nil), flow.BuildEnv{})
		part := run(t, nexmarkCfg(tc.table, 2000, nil), flow.BuildEnv{Columns: tc.read})
		if got := columnNames(part.Output[0]); got != tc.want {
			t.Errorf("%s reading %v: columns %s, want %s", tc.table, tc.read, got, tc.want)
			continue
		}
		if project(t, full.Output, strings.Split(tc.want, ",")...) != batch.ToNDJSON(part.Output...) {
			t.Errorf("%s reading %v: other values", tc.table, tc.read)
		}
	}
}

// inter_event_delay (event_interval) below a microsecond: several events
// share a microsecond, and times never go back.
func TestNexmarkSubMicrosecondInterval(t *testing.T) {
	res := run(t, nexmarkCfg("bid", 1000, map[string]any{"inter_event_delay": "250ns"}), flow.BuildEnv{})
	var e int64 = firstBid
	for _, b := range res.Output {
		ts := column(t, b, "date_time").(*array.Timestamp)
		for i := range ts.Len() {
			if want := may1.UnixMicro() + e*250/1000; int64(ts.Value(i)) != want {
				t.Fatalf("event %d at %d, want %d", e, ts.Value(i), want)
			}
			e++
			if e%epochEvents == 0 {
				e += firstBid
			}
		}
	}
}

// Bid values: prices log-uniform over $1 to $1M (about as many in each
// decade), every channel used, the url matching the channel.
func TestNexmarkBidValues(t *testing.T) {
	res := run(t, nexmarkCfg("bid", 60000, nil), flow.BuildEnv{})
	var decades [6]int
	channelsSeen := map[string]int{}
	var n int
	for _, b := range res.Output {
		price := column(t, b, "price").(*array.Int64)
		ch, url := column(t, b, "channel").(*array.String), column(t, b, "url").(*array.String)
		for i := range price.Len() {
			d := 0
			for p := price.Value(i); p >= 1000 && d < 5; p /= 10 {
				d++
			}
			decades[d]++
			channelsSeen[ch.Value(i)]++
			if !strings.Contains(url.Value(i), "/"+strings.ToLower(ch.Value(i))+"/") {
				t.Fatalf("channel %s, url %s", ch.Value(i), url.Value(i))
			}
			n++
		}
	}
	for d, c := range decades {
		if f := float64(c) / float64(n); f < 0.15 || f > 0.19 {
			t.Errorf("prices in decade %d: %.3f of the bids", d, f)
		}
	}
	for _, c := range []string{"Google", "Facebook", "Baidu", "Apple"} {
		if f := float64(channelsSeen[c]) / float64(n); f < 0.23 || f > 0.27 {
			t.Errorf("channel %s: %.3f of the bids", c, f)
		}
	}
}

// Every value of the small domains shows up: item names, categories,
// auction lengths, cities, names; sellers are not all hot.
func TestNexmarkVariety(t *testing.T) {
	res := run(t, nexmarkCfg("all", 20000, nil), flow.BuildEnv{})
	seen := map[string]map[string]bool{}
	for _, b := range res.Output {
		for _, name := range []string{"auction_item_name", "auction_description", "auction_category", "person_city", "person_state", "person_name", "auction_seller"} {
			if seen[name] == nil {
				seen[name] = map[string]bool{}
			}
			c := column(t, b, name)
			for i := range c.Len() {
				if c.IsValid(i) {
					seen[name][c.ValueStr(i)] = true
				}
			}
		}
		dt, exp := column(t, b, "auction_date_time").(*array.Timestamp), column(t, b, "auction_expires").(*array.Timestamp)
		if seen["length"] == nil {
			seen["length"] = map[string]bool{}
		}
		for i := range dt.Len() {
			if dt.IsValid(i) {
				seen["length"][time.Duration(exp.Value(i)-dt.Value(i)).String()] = true
			}
		}
	}
	for name, want := range map[string]int{"auction_item_name": 8, "auction_description": 8, "auction_category": 5,
		"person_city": 10, "person_state": 6, "length": 6} {
		if len(seen[name]) != want {
			t.Errorf("%s: %d distinct values, want %d", name, len(seen[name]), want)
		}
	}
	if n := len(seen["person_name"]); n < 80 {
		t.Errorf("%d distinct names of 400 persons", n)
	}
	// 1200 auctions by 400 persons: hot sellers are multiples of 100.
	var cold int
	for s := range seen["auction_seller"] {
		if !strings.HasSuffix(s, "00") {
			cold++
		}
	}
	if cold < 100 {
		t.Errorf("%d distinct sellers that are not hot", cold)
	}
}
