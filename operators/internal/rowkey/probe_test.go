package rowkey

import (
	"fmt"
	"testing"
)

func avgProbes(vals []string) (float64, int) {
	x := newBytesCol(nil)
	for _, v := range vals {
		x.insertBytes([]byte(v))
	}
	tot := 0
	for id := range x.len() {
		w0, w1 := wordsSlow(x.value(uint32(id)))
		j := hashWords(w0, w1) & x.mask
		p := 1
		for x.slots[j].id1 != uint32(id+1) {
			j = (j + 1) & x.mask
			p++
		}
		tot += p
	}
	return float64(tot) / float64(x.len()), len(x.slots)
}

// TestHashSpread guards the short-string hash against clustering on
// value sets that share prefixes or differ in one byte.
func TestHashSpread(t *testing.T) {
	var a, b []string
	for i := range 50 {
		a = append(a, fmt.Sprintf("C%d", i))
	}
	for i := range 20 {
		b = append(b, fmt.Sprintf("category-%d", i))
	}
	c := []string{"US", "FR", "DE", "JP", "BR", "IN", "CN", "GB", "IT", "ES", "CA", "MX", "KR", "AU", "NL", "SE", "CH", "PL", "BE", "AT"}
	d := []string{"electronics", "books", "garden", "toys", "sports", "grocery", "fashion", "beauty", "automotive", "music"}
	var e []string
	for i := range 5000 {
		e = append(e, fmt.Sprintf("user%d", i*7))
	}
	var f []string
	for i := range 100 {
		f = append(f, fmt.Sprintf("item_%02d", i))
	}
	for _, v := range [][]string{a, b, c, d, e, f} {
		p, n := avgProbes(v)
		if p > 2 {
			t.Errorf("%d values (%q...) in %d slots: %.2f probes on average", len(v), v[0], n, p)
		}
	}
}
