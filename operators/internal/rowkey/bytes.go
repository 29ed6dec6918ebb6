package rowkey

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bytesCol maps byte strings (string, large_string, binary, large_binary)
// to column-local ids. Each distinct value is copied once into arena;
// probing hashes the input bytes in place and compares them with the
// arena, so it allocates nothing per row.
type bytesCol struct {
	typ    arrow.DataType // output type
	seed   maphash.Seed
	slots  []bytesSlot
	mask   uint32
	used   int
	arena  []byte
	offs   []int // id -> start in arena; offs[len] = len(arena)
	nullID int32

	// prepared dictionary values
	dOffs32 []int32
	dOffs64 []int64
	dData   []byte
	dict    arrow.Array
}

// bytesSlot is one hash slot. A value of at most 15 bytes is held in the
// slot itself: w0 holds bytes 0..7, w1 bytes 8..14 and the length in its
// top byte, so two word compares decide equality. Longer values have
// w1 = longMark and are compared with the arena.
type bytesSlot struct {
	w0, w1 uint64
	h      uint32 // hash
	id1    uint32 // id+1; 0 = empty
}

const longMark = 0xff << 56

// words loads a value of at most 15 bytes into its two slot words. data
// must extend at least 16 bytes past s (the caller checks).
func words(data []byte, s, n int) (w0, w1 uint64) {
	m := &wordMasks[n&15]
	w0 = binary.LittleEndian.Uint64(data[s:]) & m[0]
	w1 = binary.LittleEndian.Uint64(data[s+8:])&m[1] | uint64(n)<<56
	return w0, w1
}

// wordMasks[n] keeps the first n bytes of the two words.
var wordMasks = func() (m [16][2]uint64) {
	for n := range 16 {
		m[n][0] = uint64(1)<<(8*min(n, 8)) - 1
		m[n][1] = uint64(1)<<(8*max(n-8, 0)) - 1
	}
	return m
}()

// wordsSlow is words for values near the end of their buffer.
func wordsSlow(b []byte) (w0, w1 uint64) {
	for i, x := range b {
		if i < 8 {
			w0 |= uint64(x) << (8 * i)
		} else {
			w1 |= uint64(x) << (8 * (i - 8))
		}
	}
	return w0, w1 | uint64(len(b))<<56
}

func hashWords(w0, w1 uint64) uint32 {
	h := w0*0x9E3779B97F4A7C15 ^ w1*0xC2B2AE3D27D4EB4F
	h ^= h >> 32
	return uint32(h * 0x165667B19E3779F9 >> 32)
}

func newBytesCol(typ arrow.DataType) *bytesCol {
	return &bytesCol{typ: typ, seed: maphash.MakeSeed(), slots: make([]bytesSlot, minSlots), mask: minSlots - 1, offs: []int{0}, nullID: -1}
}

func (c *bytesCol) hash(b []byte) uint32 {
	h := maphash.Bytes(c.seed, b)
	return uint32(h ^ h>>32)
}

func (c *bytesCol) value(id uint32) []byte { return c.arena[c.offs[id]:c.offs[id+1]] }

// get returns the id of data[s:e], inserting it unless probe; -1 when
// absent and probing.
func (c *bytesCol) get(data []byte, s, e int, probe bool) int32 {
	n := e - s
	if n < 16 {
		var w0, w1 uint64
		if s+16 <= len(data) {
			w0, w1 = words(data, s, n)
		} else {
			w0, w1 = wordsSlow(data[s:e])
		}
		h := hashWords(w0, w1)
		i := h & c.mask
		for {
			sl := &c.slots[i]
			if sl.w0 == w0 && sl.w1 == w1 && sl.id1 != 0 {
				return int32(sl.id1 - 1)
			}
			if sl.id1 == 0 {
				if probe {
					return -1
				}
				return c.add(sl, data[s:e], w0, w1, h)
			}
			i = (i + 1) & c.mask
		}
	}
	b := data[s:e]
	h := c.hash(b)
	i := h & c.mask
	for {
		sl := &c.slots[i]
		if sl.id1 == 0 {
			if probe {
				return -1
			}
			return c.add(sl, b, 0, longMark, h)
		}
		if sl.h == h && sl.w1 == longMark && bytes.Equal(c.value(sl.id1-1), b) {
			return int32(sl.id1 - 1)
		}
		i = (i + 1) & c.mask
	}
}

func (c *bytesCol) add(sl *bytesSlot, b []byte, w0, w1 uint64, h uint32) int32 {
	id := len(c.offs) - 1
	c.arena = append(c.arena, b...)
	c.offs = append(c.offs, len(c.arena))
	sl.w0, sl.w1, sl.h, sl.id1 = w0, w1, h, uint32(id+1)
	c.used++
	if c.used*2 > len(c.slots) && (len(c.slots) < 1<<20 || c.used*4 > len(c.slots)*3) {
		c.grow()
	}
	return int32(id)
}

func (c *bytesCol) insertBytes(b []byte) int32 { return c.get(b, 0, len(b), false) }

func (c *bytesCol) lookupBytes(b []byte) int32 { return c.get(b, 0, len(b), true) }

func (c *bytesCol) grow() {
	old := c.slots
	n := len(old) * 2
	c.slots = make([]bytesSlot, n)
	c.mask = uint32(n - 1)
	for _, s := range old {
		if s.id1 == 0 {
			continue
		}
		i := s.h & c.mask
		for c.slots[i].id1 != 0 {
			i = (i + 1) & c.mask
		}
		c.slots[i] = s
	}
}

func (c *bytesCol) null() int32 {
	if c.nullID < 0 {
		c.nullID = int32(len(c.offs) - 1)
		c.offs = append(c.offs, len(c.arena))
	}
	return c.nullID
}

// offsets returns a's offsets (absolute, into data) and data buffer.
func offsets(a arrow.Array) (o32 []int32, o64 []int64, data []byte) {
	d := a.Data()
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	switch a.DataType().ID() {
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		if d.Len() > 0 {
			o64 = arrow.GetOffsets[int64](d, 1)
		}
	default:
		if d.Len() > 0 {
			o32 = arrow.GetOffsets[int32](d, 1)
		}
	}
	return
}

func bytesLoop[O int32 | int64](c *bytesCol, a arrow.Array, offs []O, data []byte, ids []int32, probe bool) {
	n := a.Len()
	ids = ids[:n]
	if a.NullN() == 0 {
		// The hit path for short values is inlined here with the table in
		// locals; misses, inserts and long values go through get.
		slots, mask := c.slots, c.mask
	rows:
		for i := range ids {
			s, e := int(offs[i]), int(offs[i+1])
			if e-s < 16 && s+16 <= len(data) {
				w0, w1 := words(data, s, e-s)
				j := hashWords(w0, w1) & mask
				for {
					sl := &slots[j]
					if sl.w0 == w0 && sl.w1 == w1 && sl.id1 != 0 {
						ids[i] = int32(sl.id1 - 1)
						continue rows
					}
					if sl.id1 == 0 {
						break
					}
					j = (j + 1) & mask
				}
			}
			ids[i] = c.get(data, s, e, probe)
			slots, mask = c.slots, c.mask
		}
		return
	}
	bm, off := a.NullBitmapBytes(), a.Data().Offset()
	for i := range ids {
		switch {
		case !bitutil.BitIsSet(bm, off+i):
			if probe {
				ids[i] = c.nullID
			} else {
				ids[i] = c.null()
			}
		default:
			ids[i] = c.get(data, int(offs[i]), int(offs[i+1]), probe)
		}
	}
}

func (c *bytesCol) run(a arrow.Array, ids []int32, probe bool) {
	o32, o64, data := offsets(a)
	if o64 != nil {
		bytesLoop(c, a, o64, data, ids, probe)
	} else {
		bytesLoop(c, a, o32, data, ids, probe)
	}
}

func (c *bytesCol) insert(a arrow.Array, ids []int32) { c.run(a, ids, false) }
func (c *bytesCol) lookup(a arrow.Array, ids []int32) { c.run(a, ids, true) }

func (c *bytesCol) prepare(dict arrow.Array) {
	if dict == nil {
		c.dOffs32, c.dOffs64, c.dData, c.dict = nil, nil, nil, nil
		return
	}
	c.dOffs32, c.dOffs64, c.dData = offsets(dict)
	c.dict = dict
}

func (c *bytesCol) at(j int) []byte {
	if c.dOffs64 != nil {
		return c.dData[c.dOffs64[j]:c.dOffs64[j+1]]
	}
	return c.dData[c.dOffs32[j]:c.dOffs32[j+1]]
}

func (c *bytesCol) insertAt(j int) int32 {
	if c.dict.IsNull(j) {
		return c.null()
	}
	return c.insertBytes(c.at(j))
}

func (c *bytesCol) lookupAt(j int) int32 {
	if c.dict.IsNull(j) {
		return c.nullID
	}
	return c.lookupBytes(c.at(j))
}

func (c *bytesCol) len() int { return len(c.offs) - 1 }

func (c *bytesCol) bytes() int64 {
	return int64(cap(c.slots))*24 + int64(cap(c.arena)) + int64(cap(c.offs))*8
}

func (c *bytesCol) take(mem memory.Allocator, ids []int32) arrow.Array {
	b := array.NewBuilder(mem, c.typ)
	defer b.Release()
	var bb *array.BinaryBuilder
	switch x := b.(type) {
	case *array.StringBuilder:
		bb = x.BinaryBuilder
	case *array.LargeStringBuilder:
		bb = x.BinaryBuilder
	case *array.BinaryBuilder:
		bb = x
	}
	bb.Reserve(len(ids))
	size := 0
	for _, id := range ids {
		size += c.offs[id+1] - c.offs[id]
	}
	bb.ReserveData(size)
	for _, id := range ids {
		if id == c.nullID {
			bb.AppendNull()
		} else {
			bb.Append(c.value(uint32(id)))
		}
	}
	return b.NewArray()
}
