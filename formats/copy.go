package formats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Defaults for CopyOptions.
const (
	DefaultBatchRows  = 1024
	DefaultBatchBytes = 512 << 10
	DefaultBatches    = 4
)

// CopyOptions tunes Copy. The zero value is valid.
type CopyOptions struct {
	// BatchRows and BatchBytes bound one batch of copied rows: a batch is
	// handed to the writer when it holds BatchRows rows or its cell bytes
	// reach BatchBytes, whichever comes first (a single row larger than
	// BatchBytes is a batch of its own). 0 means DefaultBatchRows and
	// DefaultBatchBytes.
	BatchRows  int
	BatchBytes int
	// Batches is how many batches exist: the reader fills free ones while
	// the writer drains full ones, and blocks when none is free. Memory is
	// therefore bounded by about Batches × BatchBytes plus the row headers,
	// whatever the speeds of the two sides. 0 means DefaultBatches; 1 is
	// accepted and makes Copy sequential (no second goroutine).
	Batches int
	// Progress, when not nil, is called from Copy's goroutine after every
	// batch has been written, with the number of rows written so far. It
	// must be fast: it runs on the writing path.
	Progress func(rows int64)
}

// Copy reads every row of src and writes it to dst, decoding and encoding
// on two goroutines: a reading goroutine copies rows into a small ring of
// reusable batches while the calling goroutine writes full batches to dst.
// Channels carry the batches both ways, so a fast reader waits for a slow
// writer (and the reverse) and memory stays bounded (see CopyOptions).
//
// dst may be nil: the rows are then only read (to validate and count a
// result copied elsewhere). Copy neither closes dst nor reads past the
// first error. It returns the number of rows written (read, when dst is
// nil) and:
//   - nil when src returned io.EOF;
//   - a *ReadError wrapping the first error of src.Next (after the rows
//     before it were written);
//   - a *WriteError wrapping the first error of dst.WriteRow, naming the
//     1-based row;
//   - context.Cause(ctx) when ctx ends first.
//
// A panic in src.Next or dst.WriteRow, on either goroutine, is recovered
// and returned as a *PanicError inside the ReadError or WriteError.
//
// Copy returns only after its reading goroutine has stopped: src.Next must
// return eventually once ctx is done (a reader of an HTTP body fetched
// with ctx does), and src must not be used by anything else during Copy.
func Copy(ctx context.Context, dst RowWriter, src RowReader, opts CopyOptions) (int64, error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.Batches <= 0 {
		opts.Batches = DefaultBatches
	}
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	if opts.Batches == 1 {
		return copySerial(ctx, dst, src, opts)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	free := make(chan *rowBatch, opts.Batches)
	full := make(chan *rowBatch, opts.Batches)
	for range opts.Batches {
		free <- &rowBatch{}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(full)
		produce(ctx, src, opts, free, full)
	}()
	// stop ends the reader and waits for it, so that Copy never returns
	// while src is still in use.
	stop := func(cause error) {
		cancel(cause)
		for range full { // unblock a reader waiting to hand over a batch
		}
		wg.Wait()
	}

	var n int64
	for {
		var b *rowBatch
		var ok bool
		select {
		case <-ctx.Done():
			err := context.Cause(ctx)
			stop(err)
			return n, err
		case b, ok = <-full:
		}
		if !ok { // the reader stopped without a final batch: cancelled
			wg.Wait()
			return n, context.Cause(ctx)
		}
		for i := range b.rows {
			if dst != nil {
				if err := safeWrite(dst, b.row(i)); err != nil {
					werr := &WriteError{Row: n + 1 - behind(err), Err: err}
					stop(werr)
					return n, werr
				}
			}
			n++
		}
		if opts.Progress != nil && b.rows > 0 {
			opts.Progress(n)
		}
		if b.err != nil || b.last {
			err := b.err
			stop(nil)
			if err != nil {
				return n, &ReadError{Row: n + 1, Err: err}
			}
			return n, nil
		}
		free <- b // never blocks: free has room for every batch
	}
}

// produce fills batches from src until io.EOF, an error or the end of ctx.
// The batch holding io.EOF or the error is marked last or err and is the
// final batch sent.
func produce(ctx context.Context, src RowReader, opts CopyOptions, free <-chan *rowBatch, full chan<- *rowBatch) {
	for {
		var b *rowBatch
		select {
		case <-ctx.Done():
			return
		case b = <-free:
		}
		b.reset()
		for b.rows < opts.BatchRows && len(b.arena) < opts.BatchBytes {
			row, err := safeNext(src)
			if err != nil {
				if errors.Is(err, io.EOF) {
					b.last = true
				} else {
					b.err = err
				}
				break
			}
			b.add(row)
		}
		b.seal()
		select {
		case <-ctx.Done():
			return
		case full <- b:
		}
		if b.last || b.err != nil {
			return
		}
	}
}

// copySerial is Copy on the calling goroutine alone.
func copySerial(ctx context.Context, dst RowWriter, src RowReader, opts CopyOptions) (int64, error) {
	var n, reported int64
	report := func() {
		if opts.Progress != nil && n != reported {
			opts.Progress(n)
			reported = n
		}
	}
	defer report()
	for {
		if n%int64(opts.BatchRows) == 0 {
			report()
			if err := context.Cause(ctx); err != nil {
				return n, err
			}
		}
		row, err := safeNext(src)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, &ReadError{Row: n + 1, Err: err}
		}
		if dst != nil {
			if err := safeWrite(dst, row); err != nil {
				return n, &WriteError{Row: n + 1 - behind(err), Err: err}
			}
		}
		n++
	}
}

// ReadError is an error from the RowReader Copy read from.
type ReadError struct {
	Row int64 // 1-based row Copy was reading
	Err error
}

func (e *ReadError) Error() string { return "read result: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// WriteError is an error from the RowWriter Copy wrote to.
type WriteError struct {
	Row int64 // 1-based row that failed
	Err error
}

func (e *WriteError) Error() string { return fmt.Sprintf("write row %d: %v", e.Row, e.Err) }
func (e *WriteError) Unwrap() error { return e.Err }

// ValueError is an encoder's error about one value that does not fit its
// column's type.
type ValueError struct {
	Row int64 // the value's row among the rows the encoder was given, from 1
	// Behind is how many rows the encoder took after the value's before
	// it reported it: one that converts a batch at a time reports a value
	// when it converts the batch. Copy subtracts it, so that its
	// WriteError names the value's row.
	Behind int64
	Column string // output column name
	Type   string // the column's type, e.g. "INT64", "DECIMAL(18,2)"
	Value  []byte // the value as Looker sent it
	Err    error
}

func (e *ValueError) Error() string {
	shown := string(e.Value)
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	return fmt.Sprintf("row %d, column %q (%s): value %q: %v", e.Row, e.Column, e.Type, shown, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// behind is the ValueError.Behind of err, or 0.
func behind(err error) int64 {
	if ve, ok := errors.AsType[*ValueError](err); ok {
		return ve.Behind
	}
	return 0
}

// rowBatch holds copies of rows: cell bytes in one arena, cells in one
// slice, ncols cells per row (the width may vary between rows).
type rowBatch struct {
	arena []byte
	cells []Cell
	ends  []int // arena end offset per cell, while filling
	offs  []int // start index in cells per row, plus one final entry
	rows  int
	last  bool  // src returned io.EOF after these rows
	err   error // src failed after these rows
}

func (b *rowBatch) reset() {
	b.arena = b.arena[:0]
	b.cells = b.cells[:0]
	b.ends = b.ends[:0]
	b.offs = append(b.offs[:0], 0)
	b.rows = 0
	b.last = false
	b.err = nil
}

func (b *rowBatch) add(row Row) {
	for _, c := range row {
		b.arena = append(b.arena, c.Value...)
		b.cells = append(b.cells, Cell{Null: c.Null})
		b.ends = append(b.ends, len(b.arena))
	}
	b.offs = append(b.offs, len(b.cells))
	b.rows++
}

// seal points the cells into the arena, now that it no longer moves.
func (b *rowBatch) seal() {
	start := 0
	for i, end := range b.ends {
		b.cells[i].Value = b.arena[start:end:end]
		start = end
	}
}

func (b *rowBatch) row(i int) Row { return b.cells[b.offs[i]:b.offs[i+1]] }
