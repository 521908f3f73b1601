package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// csvBody generates a Looker csv of n rows of about 110 bytes without
// holding it (or allocating per row).
type csvBody struct {
	n, row int
	line   []byte // the current line's storage
	buf    []byte // its unread part
}

var accents = func() (s [40]string) {
	for i := range s {
		s[i] = strings.Repeat("é", i)
	}
	return s
}()

func (c *csvBody) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.row > c.n {
			return 0, io.EOF
		}
		if c.row == 0 {
			c.buf = []byte("Orders ID,Users Email,Orders Note,Orders Amount\n")
		} else {
			b := strconv.AppendInt(c.line[:0], int64(c.row), 10)
			b = strconv.AppendInt(append(b, ",user"...), int64(c.row), 10)
			b = append(b, `@example.com,"a note, with ""quotes"" and `...)
			b = append(b, accents[c.row%40]...)
			b = strconv.AppendInt(append(b, `",`...), int64(c.row*7), 10)
			c.line = append(b, ".5\n"...)
			c.buf = c.line
		}
		c.row++
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// failingWriter fails once it was given more than limit bytes.
type failingWriter struct {
	limit, n int
}

var errDiskFull = errors.New("no space left on device")

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > w.limit {
		return 0, errDiskFull
	}
	return len(p), nil
}

// TestPassthroughWriteErrorStopsTheDecoder: a failed write ends the
// passthrough with that error, after its decoder has stopped.
func TestPassthroughWriteErrorStopsTheDecoder(t *testing.T) {
	t.Parallel()
	var rows atomic.Int64
	_, err := passthrough(context.Background(), &failingWriter{limit: 3 << 20}, &csvBody{n: 200_000}, nil, &rows)
	require.ErrorIs(t, err, errDiskFull)
	require.ErrorContains(t, err, "write csv: ")
	require.Less(t, rows.Load(), int64(200_000))
}

// TestPassthroughCancelled: a cancelled context ends the passthrough with
// its cause.
func TestPassthroughCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("operator pressed ctrl-c")
	var rows atomic.Int64
	w := writerFunc(func(p []byte) (int, error) {
		if rows.Load() > 1000 {
			cancel(cause)
		}
		return len(p), nil
	})
	_, err := passthrough(ctx, w, &csvBody{n: 1_000_000}, nil, &rows)
	require.ErrorIs(t, err, cause)
	require.Less(t, rows.Load(), int64(1_000_000))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestPassthroughMemoryIsBounded: a passthrough of about 110 MB allocates
// a few MB in all (its ring of chunks and the decoder's buffer), nothing
// that grows with the body or the rows.
func TestPassthroughMemoryIsBounded(t *testing.T) {
	const n = 1_000_000
	body := &csvBody{n: n}
	var size atomic.Int64
	w := writerFunc(func(p []byte) (int, error) { size.Add(int64(len(p))); return len(p), nil })
	var rows atomic.Int64
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := passthrough(context.Background(), w, body, nil, &rows)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.EqualValues(t, n, rows.Load())
	require.Len(t, res.schema.Fields, 4)
	require.Greater(t, size.Load(), int64(100<<20))
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "allocated during the passthrough")
}

// TestSmallPassthroughsReuseTheirChunks: a passthrough takes chunks as
// its body needs them, from a free list the next one reuses, so a burst
// of small results does not allocate a ring of 2 MiB per run.
func TestSmallPassthroughsReuseTheirChunks(t *testing.T) {
	w := writerFunc(func(p []byte) (int, error) { return len(p), nil })
	run := func() {
		var rows atomic.Int64
		_, err := passthrough(context.Background(), w, &csvBody{n: 20}, nil, &rows)
		require.NoError(t, err)
		require.EqualValues(t, 20, rows.Load())
	}
	run() // warm: the free list and the decoder's code paths
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		run()
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / 10
	t.Logf("allocated per small passthrough: %d bytes", perRun)
	require.Less(t, perRun, uint64(passthroughChunk), "less than one chunk per run")
}

// TestPassthroughDigest: the digest of a passthrough is the content hash
// of the rows as the canonical form of formats.Digest defines it (written
// out here independently: null or the unquoted value, length-prefixed),
// for fields of every shape (quoted, doubled quotes, embedded line breaks
// and commas, empty quoted or not, a blank line, \r\n, a byte order mark,
// multi-byte UTF-8, values on both sides of the eight bytes the field
// scan reads at a time), however the body is split into reads.
func TestPassthroughDigest(t *testing.T) {
	t.Parallel()
	body := "\xef\xbb\xbfid,note,city\n" +
		"1,\"he said \"\"hi\"\"\",Zürich\n" +
		"2,\"line1\nline2\",\n" +
		"3,\"\",x\n" +
		"\n" +
		"4,\"a,b\",東京\r\n" +
		"5,plain and longer than eight,\"ends with \"\"q\"\"\"\n" +
		"6,1234567,12345678\n" +
		",,\n" +
		"7,é€𝄞,\"\"\n"
	rows := [][]string{ // "<null>": null
		{"1", `he said "hi"`, "Zürich"},
		{"2", "line1\nline2", "<null>"},
		{"3", "<null>", "x"},
		{"4", "a,b", "東京"},
		{"5", "plain and longer than eight", `ends with "q"`},
		{"6", "1234567", "12345678"},
		{"<null>", "<null>", "<null>"},
		{"7", "é€𝄞", "<null>"},
	}
	var canon []byte
	str := func(s string) {
		canon = binary.AppendUvarint(canon, uint64(len(s)))
		canon = append(canon, s...)
	}
	canon = append(canon, "exporter rows v1\n"...)
	canon = binary.AppendUvarint(canon, 3)
	for _, name := range []string{"id", "note", "city"} {
		str(name) // name
		str(name) // label
		canon = append(canon, byte(formats.String), 0)
	}
	for _, r := range rows {
		canon = binary.AppendUvarint(canon, uint64(len(r)))
		for _, v := range r {
			if v == "<null>" {
				canon = append(canon, 0)
				continue
			}
			canon = append(canon, 1)
			str(v)
		}
	}
	sum := sha256.Sum256(canon)
	want := "sha256:" + hex.EncodeToString(sum[:])
	for _, n := range []int{1, 2, 3, 7, 8, 9, 64, len(body)} {
		var rows atomic.Int64
		var out strings.Builder
		res, err := passthrough(t.Context(), &out, iotest.HalfReader(&chunkedReader{data: []byte(body), n: n}), nil, &rows)
		require.NoError(t, err, "reads of %d", n)
		require.Equal(t, body, out.String())
		require.EqualValues(t, 8, rows.Load())
		require.Equal(t, want, res.digest.Sum(), "reads of %d", n)
	}
}

// chunkedReader returns data n bytes at a time.
type chunkedReader struct {
	data []byte
	n    int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	return k, nil
}

// TestPassthroughWriteFailures: a writer that fails or panics ends the
// passthrough with a "write csv" error, for a body that fits in one chunk
// (written and decoded on the caller's goroutine) and for a longer one
// (copied and decoded on two).
func TestPassthroughWriteFailures(t *testing.T) {
	t.Parallel()
	panicking := writerFunc(func([]byte) (int, error) { panic("compressor bug") })
	for _, rows := range []int{20, 200_000} {
		for name, w := range map[string]io.Writer{"fails": &failingWriter{limit: 0}, "panics": panicking} {
			t.Run(fmt.Sprintf("%d rows/%s", rows, name), func(t *testing.T) {
				t.Parallel()
				var n atomic.Int64
				_, err := passthrough(context.Background(), w, &csvBody{n: rows}, nil, &n)
				require.ErrorContains(t, err, "write csv: ")
				if name == "fails" {
					require.ErrorIs(t, err, errDiskFull)
				}
			})
		}
	}
}

// TestSmallPassthroughsStartNoGoroutine: a body that fits in one chunk is
// written and decoded on the caller's goroutine, so a burst of small runs
// pays no goroutine and no hand-off for it.
func TestSmallPassthroughsStartNoGoroutine(t *testing.T) {
	w := writerFunc(func(p []byte) (int, error) { return len(p), nil })
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	const runs = 100
	before := created()
	for range runs {
		var rows atomic.Int64
		_, err := passthrough(context.Background(), w, &csvBody{n: 20}, nil, &rows)
		require.NoError(t, err)
		require.EqualValues(t, 20, rows.Load())
	}
	require.Less(t, created()-before, uint64(runs/2), "goroutines started by %d small passthroughs", runs)
}
