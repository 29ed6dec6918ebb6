package expr

// Fast paths for comparing strings of at most 8 bytes: a value is loaded
// as one little-endian word (when 8 bytes are readable from its start) and
// compared under a mask, instead of calling memequal per row.

// shortStr is a string of at most 8 bytes as a masked word.
type shortStr struct {
	n    int32
	word uint64
	mask uint64
}

func makeShort(s string) (shortStr, bool) {
	if len(s) > 8 {
		return shortStr{}, false
	}
	var w uint64
	for k := len(s) - 1; k >= 0; k-- {
		w = w<<8 | uint64(s[k])
	}
	mask := ^uint64(0)
	if len(s) < 8 {
		mask = 1<<(8*uint(len(s))) - 1
	}
	return shortStr{n: int32(len(s)), word: w, mask: mask}, true
}

// eqShortBits writes bit k of out = (s[k] == c) != neg.
func eqShortBits(off []int32, data []byte, c string, sc shortStr, out []byte, n int, neg bool) {
	off = off[:n+1]
	limit := int32(len(data) - 8)
	var w byte
	for k := 0; k < n; k++ {
		s, e := off[k], off[k+1]
		hit := false
		if e-s == sc.n {
			if s <= limit {
				hit = load64(data[s:])&sc.mask == sc.word
			} else {
				hit = string(data[s:e]) == c
			}
		}
		w |= b2u(hit != neg) << (k & 7)
		if k&7 == 7 {
			out[k>>3] = w
			w = 0
		}
	}
	if n&7 != 0 {
		out[n>>3] = w
	}
}

// inShortBits writes bit k of out = s[k] is one of set (all short).
func inShortBits(off []int32, data []byte, set []shortStr, strs []string, out []byte, n int) {
	switch len(set) {
	case 1:
		eqShortBits(off, data, strs[0], set[0], out, n, false)
		return
	case 2:
		in2ShortBits(off, data, set[0], set[1], strs, out, n)
		return
	}
	off = off[:n+1]
	limit := int32(len(data) - 8)
	var w byte
	for k := 0; k < n; k++ {
		s, e := off[k], off[k+1]
		l := e - s
		hit := false
		if s <= limit {
			v := load64(data[s:])
			for _, c := range set {
				hit = hit || (b2u(l == c.n)&b2u(v&c.mask == c.word) != 0)
			}
		} else {
			for _, c := range strs {
				hit = hit || string(data[s:e]) == c
			}
		}
		w |= b2u(hit) << (k & 7)
		if k&7 == 7 {
			out[k>>3] = w
			w = 0
		}
	}
	if n&7 != 0 {
		out[n>>3] = w
	}
}

// in2ShortBits is inShortBits for two strings.
func in2ShortBits(off []int32, data []byte, a, b shortStr, strs []string, out []byte, n int) {
	off = off[:n+1]
	limit := int32(len(data) - 8)
	var w byte
	for k := 0; k < n; k++ {
		s, e := off[k], off[k+1]
		l := e - s
		var hit byte
		if s <= limit {
			v := load64(data[s:])
			hit = b2u(l == a.n)&b2u(v&a.mask == a.word) | b2u(l == b.n)&b2u(v&b.mask == b.word)
		} else {
			hit = b2u(string(data[s:e]) == strs[0] || string(data[s:e]) == strs[1])
		}
		w |= hit << (k & 7)
		if k&7 == 7 {
			out[k>>3] = w
			w = 0
		}
	}
	if n&7 != 0 {
		out[n>>3] = w
	}
}
