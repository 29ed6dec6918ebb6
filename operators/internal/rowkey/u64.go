package rowkey

// u64Table is an open-addressing (linear probing) hash table from uint64
// keys to dense ids 0..n-1. keys[id] is the key of id; ids may also be
// handed out without a slot (appendKey) for values that are not hashed,
// such as a column's null.
type u64Table struct {
	slots []u64Slot
	mask  uint64
	keys  []uint64
	used  int // occupied slots
}

type u64Slot struct {
	key uint64
	id1 uint32 // id+1; 0 = empty
}

const minSlots = 16

func (t *u64Table) init() {
	t.slots = make([]u64Slot, minSlots)
	t.mask = minSlots - 1
}

// mix64 is MurmurHash3's 64-bit finalizer (full avalanche, so the low
// bits used as the slot index depend on every bit of k).
func mix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// insert returns k's id, assigning the next id when k is new.
func (t *u64Table) insert(k uint64) int32 {
	i := mix64(k) & t.mask
	for {
		s := &t.slots[i]
		if s.id1 == 0 {
			id := len(t.keys)
			t.keys = append(t.keys, k)
			s.key, s.id1 = k, uint32(id+1)
			t.used++
			if t.used*2 > len(t.slots) && (len(t.slots) < 1<<20 || t.used*4 > len(t.slots)*3) {
				t.grow()
			}
			return int32(id)
		}
		if s.key == k {
			return int32(s.id1 - 1)
		}
		i = (i + 1) & t.mask
	}
}

// insertAll sets ids[i] to keys[i]'s id, inserting new keys. The hit
// path is inlined with the table in locals.
func (t *u64Table) insertAll(keys []uint64, ids []int32) {
	slots, mask := t.slots, t.mask
	ids = ids[:len(keys)]
rows:
	for i, k := range keys {
		j := mix64(k) & mask
		for {
			s := &slots[j]
			if s.key == k && s.id1 != 0 {
				ids[i] = int32(s.id1 - 1)
				continue rows
			}
			if s.id1 == 0 {
				break
			}
			j = (j + 1) & mask
		}
		ids[i] = t.insert(k)
		slots, mask = t.slots, t.mask
	}
}

// lookup returns k's id or -1.
func (t *u64Table) lookup(k uint64) int32 {
	i := mix64(k) & t.mask
	for {
		s := &t.slots[i]
		if s.id1 == 0 {
			return -1
		}
		if s.key == k {
			return int32(s.id1 - 1)
		}
		i = (i + 1) & t.mask
	}
}

// appendKey hands out the next id without hashing it (for nulls).
func (t *u64Table) appendKey(k uint64) int32 {
	t.keys = append(t.keys, k)
	return int32(len(t.keys) - 1)
}

func (t *u64Table) grow() {
	old := t.slots
	n := len(old) * 2
	t.slots = make([]u64Slot, n)
	t.mask = uint64(n - 1)
	for _, s := range old {
		if s.id1 == 0 {
			continue
		}
		i := mix64(s.key) & t.mask
		for t.slots[i].id1 != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = s
	}
}

func (t *u64Table) bytes() int64 {
	return int64(cap(t.slots))*16 + int64(cap(t.keys))*8
}
