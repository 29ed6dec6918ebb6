package order

import (
	"cmp"
	"slices"
)

// radixMin is the row count from which keys made only of fixed-width
// columns are sorted by radix rather than by comparison.
const radixMin = 512

// sortPerm returns the row numbers of ks in sorted order; equal rows keep
// their input order (the sort is stable).
func sortPerm(ks *keySet) []uint32 {
	allFixed := true
	for _, c := range ks.cols {
		allFixed = allFixed && !c.str
	}
	if allFixed && ks.n >= radixMin {
		return radixSort(ks)
	}
	if ks.n >= radixMin {
		return prefixSort(ks)
	}
	perm := make([]uint32, ks.n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	slices.SortFunc(perm, func(a, b uint32) int {
		if c := compare(ks, int(a), ks, int(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return perm
}

// prefixSort sorts keys that hold strings: a radix sort on the first key's
// null rank and 8-byte prefix (the same order compare starts with), then a
// comparison sort of each run of rows that tie on it, by every key and
// then by row number. Distinct prefixes are the common case, so most rows
// never reach a comparison; the result is the same stable order.
func prefixSort(ks *keySet) []uint32 {
	first := &keySet{cols: ks.cols[:1], n: ks.n}
	perm := radixSort(first)
	c := &ks.cols[0]
	tie := func(a, b uint32) bool {
		return rankAt(c, int(a)) == rankAt(c, int(b)) && c.u[a] == c.u[b]
	}
	for s := 0; s < len(perm); {
		e := s + 1
		for e < len(perm) && tie(perm[s], perm[e]) {
			e++
		}
		if e-s > 1 {
			slices.SortFunc(perm[s:e], func(a, b uint32) int {
				if c := compare(ks, int(a), ks, int(b)); c != 0 {
					return c
				}
				return cmp.Compare(a, b)
			})
		}
		s = e
	}
	return perm
}

// radixSort sorts the rows of a set of fixed-width keys by LSD radix sort:
// keys from the last to the first, each by its bytes from the least to the
// most significant (skipping bytes that are the same in every row), then
// by null rank. Every pass is stable, so the whole sort is.
func radixSort(ks *keySet) []uint32 {
	n := ks.n
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	tmp := make([]uint32, n)
	ka := make([]uint64, n)
	kb := make([]uint64, n)
	for k := len(ks.cols) - 1; k >= 0; k-- {
		c := &ks.cols[k]
		for i, p := range perm {
			ka[i] = c.u[p]
		}
		var hist [8][256]int
		for _, v := range ka {
			hist[0][byte(v)]++
			hist[1][byte(v>>8)]++
			hist[2][byte(v>>16)]++
			hist[3][byte(v>>24)]++
			hist[4][byte(v>>32)]++
			hist[5][byte(v>>40)]++
			hist[6][byte(v>>48)]++
			hist[7][byte(v>>56)]++
		}
		for b := 0; b < 8; b++ {
			shift := uint(8 * b)
			h := &hist[b]
			if h[byte(ka[0]>>shift)] == n {
				continue
			}
			var off [256]int
			sum := 0
			for d := 0; d < 256; d++ {
				off[d] = sum
				sum += h[d]
			}
			for i, v := range ka {
				d := byte(v >> shift)
				p := off[d]
				off[d]++
				kb[p] = v
				tmp[p] = perm[i]
			}
			ka, kb = kb, ka
			perm, tmp = tmp, perm
		}
		if c.rank != nil {
			zeros := 0
			for _, p := range perm {
				if c.rank[p] == 0 {
					zeros++
				}
			}
			z, o := 0, zeros
			for _, p := range perm {
				if c.rank[p] == 0 {
					tmp[z] = p
					z++
				} else {
					tmp[o] = p
					o++
				}
			}
			perm, tmp = tmp, perm
		}
	}
	return perm
}
