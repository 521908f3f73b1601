package jobs

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
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
