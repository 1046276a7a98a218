package scenarios

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// TestSegmentCacheResyncEqualsAFreshParse holds the durability checker's incremental parse
// to the plain one: whatever happens to a segment's bytes between two reads (records
// rewritten in place, entries appended, overwritten, damaged, the file cut short), the cache
// brought up to date by resync must hold exactly what a parse from scratch finds.
func TestSegmentCacheResyncEqualsAFreshParse(t *testing.T) {
	const cluster = 7
	rapid.Check(t, func(t *rapid.T) {
		data := segmentBytes(t, cluster, nil)
		cache := &segmentCache{}
		cache.resync(data, cluster)
		for step := rapid.IntRange(1, 8).Draw(t, "steps"); step > 0; step-- {
			data = mutateSegment(t, cluster, data)
			cache.resync(data, cluster)
			fresh := &segmentCache{}
			fresh.resync(data, cluster)
			require.Equal(t, fresh.parsed, cache.parsed, "parsed")
			require.Equal(t, orNil(fresh.entries), orNil(cache.entries), "entries")
			require.Equal(t, orNil(fresh.jumps), orNil(cache.jumps), "jumps")
			require.Equal(t, orNil(data), orNil(cache.data[:len(data)]), "bytes")
		}
	})
}

// segmentBytes lays out a segment: a few sectors of records (random bytes), then entries of
// ops 1.. at sector-aligned offsets, some with a gap of junk sectors before them.
func segmentBytes(t *rapid.T, cluster uint64, data []byte) []byte {
	records := rapid.IntRange(0, 3).Draw(t, "record sectors")
	data = append(data, rapid.SliceOfN(rapid.Byte(), records*storage.SectorSize, records*storage.SectorSize).Draw(t, "records")...)
	for op := uint64(1); op <= uint64(rapid.IntRange(0, 6).Draw(t, "entries")); op++ {
		if rapid.IntRange(0, 3).Draw(t, "gap") == 0 {
			data = append(data, make([]byte, storage.SectorSize)...)
		}
		data = append(data, testEntry(t, cluster, op, int64(len(data)))...)
	}
	return data
}

func testEntry(t *rapid.T, cluster, op uint64, offset int64) []byte {
	body := rapid.SliceOfN(rapid.Byte(), 0, 1200).Draw(t, "body")
	prepare := vsr.Encode(vsr.Header{Cluster: cluster, Command: vsr.CommandPrepare, Op: op, View: 1}, body)
	return storage.EncodeEntry(cluster, op, offset, checksum.Sum{1}, prepare)
}

// mutateSegment changes a segment as its replica's disk might between two reads.
func mutateSegment(t *rapid.T, cluster uint64, data []byte) []byte {
	data = append([]byte(nil), data...)
	switch rapid.IntRange(0, 4).Draw(t, "change") {
	case 0: // bytes rewritten in place (the records), maybe across an entry
		if len(data) > 0 {
			at := rapid.IntRange(0, len(data)-1).Draw(t, "at")
			for i := at; i < min(len(data), at+rapid.IntRange(1, 600).Draw(t, "length")); i++ {
				data[i] = rapid.Byte().Draw(t, "byte")
			}
		}
	case 1: // an entry appended
		data = padToSector(data)
		data = append(data, testEntry(t, cluster, uint64(rapid.IntRange(1, 9).Draw(t, "op")), int64(len(data)))...)
	case 2: // a sector overwritten by an entry (a misdirected or rewritten one)
		if sectors := len(data) / storage.SectorSize; sectors > 0 {
			at := rapid.IntRange(0, sectors-1).Draw(t, "sector") * storage.SectorSize
			e := testEntry(t, cluster, uint64(rapid.IntRange(1, 9).Draw(t, "op")), int64(at))
			if at+len(e) > len(data) {
				data = append(data, make([]byte, at+len(e)-len(data))...)
			}
			copy(data[at:], e)
		}
	case 3: // cut short
		if len(data) > 0 {
			data = data[:rapid.IntRange(0, len(data)-1).Draw(t, "size")]
		}
	case 4: // half an entry appended (a write not yet whole on the durable image)
		data = padToSector(data)
		e := testEntry(t, cluster, 9, int64(len(data)))
		data = append(data, e[:rapid.IntRange(0, len(e)-1).Draw(t, "part")]...)
	}
	return data
}

func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func padToSector(data []byte) []byte {
	return append(data, make([]byte, (storage.SectorSize-len(data)%storage.SectorSize)%storage.SectorSize)...)
}

// TestDifferencesFindsTheOuterDifferences holds differences (chunked, from both ends) to a
// byte-by-byte walk: sparse changes anywhere, across and inside the 4096- and 256-byte chunk
// boundaries (inputs up to 20,000 bytes: a segment is tens of kilobytes).
func TestDifferencesFindsTheOuterDifferences(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := make([]byte, rapid.IntRange(0, 20000).Draw(t, "size"))
		for i := range a {
			a[i] = byte(i * 7)
		}
		b := append([]byte(nil), a...)
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, max(len(a)-1, 0)), 0, 4).Draw(t, "flips") {
			if len(b) > 0 {
				b[i] ^= 1 + byte(i%255)
			}
		}
		first, last := int64(-1), int64(-1)
		for i := range a {
			if a[i] != b[i] {
				if first < 0 {
					first = int64(i)
				}
				last = int64(i)
			}
		}
		gotFirst, gotLast := differences(a, b)
		require.Equal(t, [2]int64{first, last}, [2]int64{gotFirst, gotLast})
	})
}

// TestIntactAnywhereFindsAnEntryInsideATornExtent: a crash tore an append at 1024 (its header
// sector survived, claiming two sectors) and the engine wrote the op again at the file's end,
// inside that extent. The walk from the start steps over it; intactAnywhere finds it, and
// finds nothing for a damaged copy or another prepare.
func TestIntactAnywhereFindsAnEntryInsideATornExtent(t *testing.T) {
	const cluster = 7
	encode := func(op uint64, offset int64, body []byte) ([]byte, checksum.Sum) {
		prepare := vsr.Encode(vsr.Header{Cluster: cluster, Command: vsr.CommandPrepare, Op: op, View: 1}, body)
		h, err := vsr.DecodeHeader(prepare[:vsr.HeaderSize], cluster)
		require.NoError(t, err)
		return storage.EncodeEntry(cluster, op, offset, checksum.Sum{1}, prepare), h.Checksum
	}
	data := make([]byte, 1024)
	torn, _ := encode(5, 1024, bytes.Repeat([]byte{0xaa}, 600)) // two sectors
	require.Len(t, torn, 2*storage.SectorSize)
	data = append(data, torn[:storage.SectorSize]...) // its second sector was lost
	again, sum := encode(5, int64(len(data)), bytes.Repeat([]byte{0xbb}, 100))
	data = append(data, again...)
	data = append(data, make([]byte, storage.SectorSize)...)

	var walk segmentCache
	walk.data = data
	walk.parse(cluster, nil)
	_, found := walk.find(5, sum)
	require.False(t, found, "the walk steps over the entry inside the torn extent")

	e, ok := intactAnywhere(data, cluster, 5, sum)
	require.True(t, ok)
	require.Equal(t, int64(1024+storage.SectorSize), e.offset)
	_, ok = intactAnywhere(data, cluster, 5, checksum.Sum{9})
	require.False(t, ok, "another prepare at the op is not held")
	damaged := bytes.Clone(data)
	damaged[e.offset+storage.HeaderSize+vsr.HeaderSize+10] ^= 1
	_, ok = intactAnywhere(damaged, cluster, 5, sum)
	require.False(t, ok, "a damaged copy is not held")
}
