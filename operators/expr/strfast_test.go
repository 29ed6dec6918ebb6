package expr

import (
	"testing"
)

// The word-at-a-time string paths fall back to plain comparison near the
// end of the data; check both against a direct loop.
func TestShortStringPaths(t *testing.T) {
	vals := []string{"US", "CA", "", "USA", "U", "CA", "US", "ab", "12345678", "1234567", "US"}
	var off []int32
	var data []byte
	off = append(off, 0)
	for _, v := range vals {
		data = append(data, v...)
		off = append(off, int32(len(data)))
	}
	data = data[:len(data):len(data)] // no slack: the last values take the fallback
	for _, set := range [][]string{{"US"}, {"US", "CA"}, {"", "12345678", "U"}, {"1234567", "ab", "CA", "US"}} {
		var sc []shortStr
		for _, s := range set {
			x, _ := makeShort(s)
			sc = append(sc, x)
		}
		out := make([]byte, 2)
		inShortBits(off, data, sc, set, out, len(vals))
		for k, v := range vals {
			want := false
			for _, s := range set {
				want = want || v == s
			}
			if getBit(out, k) != want {
				t.Errorf("%q in %q: got %v", v, set, !want)
			}
		}
		if len(set) == 1 {
			for _, neg := range []bool{false, true} {
				eqShortBits(off, data, set[0], sc[0], out, len(vals), neg)
				for k, v := range vals {
					if getBit(out, k) != ((v == set[0]) != neg) {
						t.Errorf("%q = %q (neg %v): wrong", v, set[0], neg)
					}
				}
			}
		}
	}
}
