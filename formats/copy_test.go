package formats_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// genReader yields n rows of width cells (row i, cell j = "i.j", every
// 5th cell null, every 7th an empty string), reusing its buffers like the
// real decoders. It fails with err at row failAt (1-based) when set, and
// records calls made after done is closed.
type genReader struct {
	n, width int
	failAt   int
	err      error
	block    <-chan struct{} // when set, Next waits on it after row blockAt
	blockAt  int
	ctx      context.Context

	reads atomic.Int64
	row   formats.Row
	buf   []byte
}

func (g *genReader) Schema() formats.Schema { return formats.Schema{} }

func (g *genReader) Next() (formats.Row, error) {
	i := int(g.reads.Add(1))
	if g.block != nil && i > g.blockAt {
		select {
		case <-g.block:
		case <-g.ctx.Done():
			return nil, fmt.Errorf("body read: %w", context.Cause(g.ctx))
		}
	}
	if g.failAt > 0 && i == g.failAt {
		return nil, g.err
	}
	if i > g.n {
		return nil, io.EOF
	}
	g.row, g.buf = g.row[:0], g.buf[:0]
	for j := range g.width {
		g.buf = fmt.Appendf(g.buf, "%d.%d", i, j)
	}
	off := 0
	for j := range g.width {
		v := g.buf[off : off+len(fmt.Sprintf("%d.%d", i, j))]
		off += len(v)
		switch {
		case (i+j)%5 == 0:
			g.row = append(g.row, formats.Cell{Null: true})
		case (i+j)%7 == 0:
			g.row = append(g.row, formats.Cell{Value: []byte{}})
		default:
			g.row = append(g.row, formats.Cell{Value: v})
		}
	}
	return g.row, nil
}

// collectWriter keeps copies of the rows written; it fails at row failAt
// and blocks in its first WriteRow until release is closed, when set.
type collectWriter struct {
	rows    [][]string
	failAt  int
	err     error
	release <-chan struct{}
	entered chan struct{}
}

func (w *collectWriter) WriteRow(r formats.Row) error {
	if w.release != nil && len(w.rows) == 0 {
		close(w.entered)
		<-w.release
		w.release = nil
	}
	if w.failAt > 0 && len(w.rows)+1 == w.failAt {
		return w.err
	}
	row := make([]string, len(r))
	for i, c := range r {
		row[i] = string(c.Value)
		if c.Null {
			row[i] = "<null>"
		}
	}
	w.rows = append(w.rows, row)
	return nil
}

func (w *collectWriter) Close() error { return nil }

func wantRows(n, width int) [][]string {
	var out [][]string
	for i := 1; i <= n; i++ {
		var row []string
		for j := range width {
			switch {
			case (i+j)%5 == 0:
				row = append(row, "<null>")
			case (i+j)%7 == 0:
				row = append(row, "")
			default:
				row = append(row, fmt.Sprintf("%d.%d", i, j))
			}
		}
		out = append(out, row)
	}
	return out
}

func TestCopy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		rows, cols int
		opts       formats.CopyOptions
	}{
		{"zero rows", 0, 3, formats.CopyOptions{}},
		{"one row", 1, 3, formats.CopyOptions{}},
		{"defaults", 5000, 12, formats.CopyOptions{}},
		{"serial", 5000, 12, formats.CopyOptions{Batches: 1, BatchRows: 100}},
		{"tiny batches", 1001, 4, formats.CopyOptions{BatchRows: 1, Batches: 2}},
		{"rows wider than a batch", 50, 2000, formats.CopyOptions{BatchBytes: 100}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &genReader{n: tt.rows, width: tt.cols}
			dst := &collectWriter{}
			var progress []int64
			tt.opts.Progress = func(n int64) { progress = append(progress, n) }
			n, err := formats.Copy(context.Background(), dst, src, tt.opts)
			require.NoError(t, err)
			require.EqualValues(t, tt.rows, n)
			require.Equal(t, wantRows(tt.rows, tt.cols), dst.rows)
			if tt.rows > 0 {
				require.IsIncreasing(t, progress)
				require.EqualValues(t, tt.rows, progress[len(progress)-1])
			}
			reads := src.reads.Load()
			_, _ = formats.Copy(context.Background(), nil, src, formats.CopyOptions{}) // src at EOF
			require.Equal(t, reads+1, src.reads.Load(), "the first Copy stopped at io.EOF")
		})
	}
}

func TestCopyNilWriterCounts(t *testing.T) {
	t.Parallel()
	n, err := formats.Copy(context.Background(), nil, &genReader{n: 3000, width: 2}, formats.CopyOptions{})
	require.NoError(t, err)
	require.EqualValues(t, 3000, n)
}

func TestCopyReadError(t *testing.T) {
	t.Parallel()
	for _, batches := range []int{1, 3} {
		t.Run(fmt.Sprint(batches), func(t *testing.T) {
			t.Parallel()
			boom := errors.New("decode looker csv: row 2500: bare quote")
			src := &genReader{n: 5000, width: 3, failAt: 2500, err: boom}
			dst := &collectWriter{}
			n, err := formats.Copy(context.Background(), dst, src, formats.CopyOptions{Batches: batches, BatchRows: 64})
			require.ErrorIs(t, err, boom)
			var re *formats.ReadError
			require.ErrorAs(t, err, &re)
			require.EqualValues(t, 2500, re.Row)
			require.EqualValues(t, 2499, n)
			require.Equal(t, wantRows(2499, 3), dst.rows, "rows before the error are written")
			require.EqualValues(t, 2500, src.reads.Load(), "nothing read after the error")
		})
	}
}

func TestCopyWriteError(t *testing.T) {
	t.Parallel()
	for _, batches := range []int{1, 3} {
		t.Run(fmt.Sprint(batches), func(t *testing.T) {
			t.Parallel()
			boom := errors.New("parquet encoder: value \"x\" is not an INT64")
			src := &genReader{n: 100000, width: 3}
			dst := &collectWriter{failAt: 700, err: boom}
			n, err := formats.Copy(context.Background(), dst, src, formats.CopyOptions{Batches: batches, BatchRows: 64})
			require.ErrorIs(t, err, boom)
			var we *formats.WriteError
			require.ErrorAs(t, err, &we)
			require.EqualValues(t, 700, we.Row)
			require.EqualValues(t, 699, n)
			require.Contains(t, err.Error(), "write row 700")
			// The reader stopped: at most the batches in flight were read ahead.
			require.LessOrEqual(t, src.reads.Load(), int64(700+batches*64+1))
		})
	}
}

// TestCopyBackPressure: a stalled writer stops the reader once every
// batch is full.
func TestCopyBackPressure(t *testing.T) {
	t.Parallel()
	const batches, batchRows = 3, 10
	src := &genReader{n: 1000, width: 2}
	release := make(chan struct{})
	dst := &collectWriter{release: release, entered: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := formats.Copy(context.Background(), dst, src, formats.CopyOptions{Batches: batches, BatchRows: batchRows})
		done <- err
	}()
	<-dst.entered
	// The writer holds one batch, the others fill up; then the reader waits.
	deadline := time.Now().Add(10 * time.Second)
	for src.reads.Load() < batches*batchRows && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.EqualValues(t, batches*batchRows, src.reads.Load(), "reader ran ahead of the bound")
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, wantRows(1000, 2), dst.rows)
}

// TestCopyCancel: cancelling ctx while the reader is blocked in Next (as on
// a stalled HTTP body) or the writer is slow returns the cause, after the
// reading goroutine has stopped.
func TestCopyCancel(t *testing.T) {
	t.Parallel()
	for _, batches := range []int{1, 4} {
		t.Run(fmt.Sprint(batches), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancelCause(context.Background())
			stall := make(chan struct{})
			src := &genReader{n: 1 << 30, width: 2, block: stall, blockAt: 200, ctx: ctx}
			var progressed atomic.Int64
			done := make(chan error)
			go func() {
				_, err := formats.Copy(ctx, &collectWriter{}, src, formats.CopyOptions{Batches: batches, BatchRows: 50,
					Progress: func(n int64) { progressed.Store(n) }})
				done <- err
			}()
			deadline := time.Now().Add(10 * time.Second)
			for src.reads.Load() <= 200 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			stop := errors.New("shutdown: drain timeout")
			cancel(stop)
			err := <-done
			require.ErrorIs(t, err, stop)
			reads := src.reads.Load()
			close(stall)
			require.Equal(t, reads, src.reads.Load(), "no read after Copy returned")
		})
	}
}

func TestCopyCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted")
	cancel(cause)
	_, err := formats.Copy(ctx, nil, &genReader{n: 10, width: 1}, formats.CopyOptions{})
	require.ErrorIs(t, err, cause)
}

type panicReader struct{ genReader }

func (p *panicReader) Next() (formats.Row, error) {
	if p.reads.Load() == 10 {
		var cols []int
		_ = cols[p.width+5] // an index out of range, as a decoder bug would
	}
	return p.genReader.Next()
}

type panicWriter struct{ collectWriter }

func (p *panicWriter) WriteRow(r formats.Row) error {
	if len(p.rows) == 20 {
		panic("encoder bug")
	}
	return p.collectWriter.WriteRow(r)
}

// TestCopyRecoversPanics: a panic in the decoder or the encoder, on either
// goroutine, fails the copy with a *PanicError carrying the stack instead
// of killing the process.
func TestCopyRecoversPanics(t *testing.T) {
	t.Parallel()
	for _, batches := range []int{1, 3} {
		t.Run(fmt.Sprint(batches), func(t *testing.T) {
			t.Parallel()
			_, err := formats.Copy(context.Background(), &collectWriter{}, &panicReader{genReader{n: 100, width: 2}}, formats.CopyOptions{Batches: batches, BatchRows: 4})
			var pe *formats.PanicError
			require.ErrorAs(t, err, &pe)
			require.Contains(t, err.Error(), "index out of range")
			require.Contains(t, string(pe.Stack), "panicReader")

			_, err = formats.Copy(context.Background(), &panicWriter{}, &genReader{n: 100, width: 2}, formats.CopyOptions{Batches: batches, BatchRows: 4})
			require.ErrorAs(t, err, &pe)
			require.Contains(t, err.Error(), "encoder bug")
			require.Contains(t, err.Error(), "write row 21")
		})
	}
}
