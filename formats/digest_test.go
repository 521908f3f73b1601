package formats_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/fixture"
)

func cells(vs ...string) formats.Row {
	r := make(formats.Row, len(vs))
	for i, v := range vs {
		if v == "<null>" {
			r[i] = formats.Cell{Null: true}
			continue
		}
		r[i] = formats.Cell{Value: []byte(v)}
	}
	return r
}

var digestSchema = formats.Schema{Fields: []formats.Field{
	{Name: "orders.id", Label: "Orders ID", Type: formats.Int64},
	{Name: "orders.status", Label: "Orders Status", Type: formats.String},
}}

// digestOf reads rows through a Digest's Reader, as a run does.
func digestOf(t *testing.T, s formats.Schema, rows ...formats.Row) string {
	t.Helper()
	d := formats.NewDigest(s)
	r := d.Reader(fixture.Rows(s, rows))
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	return d.Sum()
}

// TestDigest: the same rows hash the same; any difference in a value, a
// null, the rows, their order or the columns changes the digest.
func TestDigest(t *testing.T) {
	t.Parallel()
	base := digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>"))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, base)
	require.Equal(t, base, digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>")), "same rows, same digest")

	renamed := formats.Schema{Fields: append([]formats.Field{}, digestSchema.Fields...)}
	renamed.Fields[1].Name = "orders.state"
	retyped := formats.Schema{Fields: append([]formats.Field{}, digestSchema.Fields...)}
	retyped.Fields[0].Type = formats.String
	decimal := func(p, s int) formats.Schema {
		d := formats.Schema{Fields: append([]formats.Field{}, digestSchema.Fields...)}
		d.Fields[0].Type, d.Fields[0].Precision, d.Fields[0].Scale = formats.Decimal, p, s
		return d
	}
	cases := []struct {
		name string
		got  string
	}{
		{"a value", digestOf(t, digestSchema, cells("1", "complete"), cells("2", "pending"))},
		{"null is not empty", digestOf(t, digestSchema, cells("1", "complete"), cells("2", ""))},
		{"bytes move between cells", digestOf(t, digestSchema, cells("1c", "omplete"), cells("2", "<null>"))},
		{"a row less", digestOf(t, digestSchema, cells("1", "complete"))},
		{"a row more", digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>"), cells("3", "x"))},
		{"row order", digestOf(t, digestSchema, cells("2", "<null>"), cells("1", "complete"))},
		{"a column renamed", digestOf(t, renamed, cells("1", "complete"), cells("2", "<null>"))},
		{"a column retyped", digestOf(t, retyped, cells("1", "complete"), cells("2", "<null>"))},
		{"DECIMAL(18,2)", digestOf(t, decimal(18, 2), cells("1", "complete"), cells("2", "<null>"))},
		{"DECIMAL(18,4)", digestOf(t, decimal(18, 4), cells("1", "complete"), cells("2", "<null>"))},
		{"DECIMAL(20,2)", digestOf(t, decimal(20, 2), cells("1", "complete"), cells("2", "<null>"))},
		{"no rows", digestOf(t, digestSchema)},
	}
	seen := map[string]string{base: "base"}
	for _, c := range cases {
		prev, dup := seen[c.got]
		require.False(t, dup, "%s hashes like %s", c.name, prev)
		seen[c.got] = c.name
	}
}

// referenceDigest is the canonical form of Digest written out plainly,
// hashed in one piece: what stored content hashes were computed from.
func referenceDigest(s formats.Schema, rows []formats.Row) string {
	var b []byte
	str := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = append(b, "exporter rows v1\n"...)
	b = binary.AppendUvarint(b, uint64(len(s.Fields)))
	for _, f := range s.Fields {
		str([]byte(f.Name))
		str([]byte(f.Label))
		b = append(b, byte(f.Type))
		if f.Type == formats.Decimal {
			b = binary.AppendUvarint(b, uint64(f.Precision))
			b = binary.AppendUvarint(b, uint64(f.Scale))
		}
		if f.IsLocal() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(len(r)))
		for _, c := range r {
			if c.Null {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			str(c.Value)
		}
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// digestRows are enough rows, of varied sizes, for a digest to buffer and
// hash in several pieces, with a value larger than any buffer.
func digestRows() []formats.Row {
	var rows []formats.Row
	for i := range 5000 {
		rows = append(rows, cells(strconv.Itoa(i), strings.Repeat("x", i%300), "<null>"))
	}
	return append(rows, cells("big", strings.Repeat("y", 1<<20), ""))
}

// TestDigestIsStable: the digest of a run is compared with the digest an
// earlier version stored (when: changed), so how rows are buffered and
// hashed must never change it: it equals the canonical form hashed in one
// piece, and a digest pinned when it was introduced.
func TestDigestIsStable(t *testing.T) {
	t.Parallel()
	rows := digestRows()
	want := referenceDigest(digestSchema3, rows)
	require.Equal(t, want, digestOf(t, digestSchema3, rows...))
	d := formats.NewDigest(digestSchema3)
	wait := d.Concurrent()
	for _, r := range rows {
		d.Row(r)
		for i := range r { // the decoder reuses its cells: the digest must not hold them
			clear(r[i].Value)
		}
	}
	wait()
	require.Equal(t, want, d.Sum(), "hashed on a goroutine of its own")
	small := rows[:10] // never fills a buffer: the goroutine never starts
	d = formats.NewDigest(digestSchema3)
	wait = d.Concurrent()
	for _, r := range small {
		d.Row(r)
	}
	wait()
	require.Equal(t, referenceDigest(digestSchema3, small), d.Sum(), "Concurrent, smaller than a buffer")
	require.Equal(t, "sha256:55feb5c6b318a1bbf572644b8bf5bf62d868e7ad1c2b5e95826e957e9099680e", digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>")))
}

// TestDigestOfASmallResultAllocatesLittle: a burst of small runs makes a
// digest per run. One of a few rows or a few KiB, Concurrent or not, must
// not make the buffers of a large result (36 KiB each) nor its goroutine,
// nor grow its first buffer to hold the result: made and collected a
// thousand times at once, they cost more than the hashing.
func TestDigestOfASmallResultAllocatesLittle(t *testing.T) {
	// Not parallel: it reads the process's allocation counter.
	few := digestRows()[:10]
	var kib []formats.Row // about 12 KiB of canonical form
	for i := range 150 {
		kib = append(kib, cells(strconv.Itoa(i), "2024-01-01", "2024-01-01 08:00:00", "María Anderson", "maria.anderson540@example.com",
			"Spain", "complete", "422.75", "2", "No", "<null>", "Accessories"))
	}
	for _, tc := range []struct {
		rows       []formats.Row
		concurrent bool
	}{{few, false}, {few, true}, {kib, false}, {kib, true}} {
		rows, concurrent := tc.rows, tc.concurrent
		const n = 200
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			d := formats.NewDigest(digestSchema3)
			wait := func() {}
			if concurrent {
				wait = d.Concurrent()
			}
			for _, r := range rows {
				d.Row(r)
			}
			wait()
			_ = d.Sum()
		}
		runtime.ReadMemStats(&after)
		perDigest := (after.TotalAlloc - before.TotalAlloc) / n
		require.Less(t, perDigest, uint64(2<<10), "bytes allocated per digest of %d rows (concurrent %v)", len(rows), concurrent)
	}
}

var digestSchema3 = formats.Schema{Fields: []formats.Field{
	{Name: "orders.id", Label: "Orders ID", Type: formats.Int64},
	{Name: "orders.note", Label: "Orders Note", Type: formats.String},
	{Name: "orders.created_local", Label: "Created (local)", Type: formats.Timestamp, Local: true},
}}

// BenchmarkDigest hashes 1,000-row batches of 12 short cells, the shape of
// a Looker result.
func BenchmarkDigest(b *testing.B) {
	rows := make([]formats.Row, 1000)
	var size int64
	for i := range rows {
		rows[i] = cells(strconv.Itoa(i), "2024-01-01", "2024-01-01 08:00:00", "María Anderson", "maria.anderson540@example.com",
			"Spain", "complete", "422.75", "2", "No", "<null>", "Accessories")
		for _, c := range rows[i] {
			size += int64(len(c.Value))
		}
	}
	b.SetBytes(size)
	d := formats.NewDigest(digestSchema)
	for b.Loop() {
		for _, r := range rows {
			d.Row(r)
		}
	}
	_ = d.Sum()
}

// TestDigestPinned pins digests computed before Row was rewritten for
// speed: stored content hashes (state's sha256:...) must keep their value,
// or every job would look changed once.
func TestDigestPinned(t *testing.T) {
	t.Parallel()
	long := formats.Schema{Fields: make([]formats.Field, 200)}
	for i := range long.Fields {
		long.Fields[i] = formats.Field{Name: "f" + strconv.Itoa(i), Label: "F " + strconv.Itoa(i), Type: formats.String}
	}
	wide := make(formats.Row, 200)
	for i := range wide {
		if i%7 == 0 {
			wide[i] = formats.Cell{Null: true}
			continue
		}
		wide[i] = formats.Cell{Value: []byte(strings.Repeat("é", i))} // lengths on both sides of 127
	}
	wide[199].Value = []byte(strings.Repeat("z", 20000)) // and of 16383
	for _, c := range []struct {
		name string
		got  string
		want string
	}{
		{"varied rows", digestOf(t, digestSchema3, digestRows()...), "sha256:8d6dd714333db57ccf68bed08c8468ddfa062d3d8e05d813299add2ca974d113"},
		{"wide rows", digestOf(t, long, wide, wide), "sha256:0e4f6cd5ac565c1fa47ba1efd42f44ec1507004e68af08ab18161ab242e152e1"},
		{"no rows", digestOf(t, digestSchema3), "sha256:4a0bdbd5fcc3ccaea9967f04bc96da50b9979b0b989261ef676d972d5209089a"},
		{"empty and null", digestOf(t, digestSchema, cells("", "<null>"), cells("<null>", "")), "sha256:71e08ec7d23cfc5d4461405280e08eb98fc052dfebb72c56287e6779564f456c"},
	} {
		require.Equal(t, c.want, c.got, c.name)
	}
}
