package publish

import (
	"context"
	"fmt"
	"io"
)

// Encoder writes rows of type R to the io.Writer it was made with:
// formats.RowWriter is one (R = formats.Row). Close flushes and ends the
// file (a Parquet footer, the end of a compressed stream) without closing
// the io.Writer.
type Encoder[R any] interface {
	WriteRow(row R) error
	Close() error
}

// NewEncoder starts a complete, independently readable file on w: headers
// included. A Splitter calls it once per data file.
type NewEncoder[R any] func(w io.Writer) (Encoder[R], error)

// Limits bound each data file of a split run. Zero means no limit.
type Limits struct {
	// MaxRows: a file holds at most this many rows.
	MaxRows int64
	// MaxBytes: a file is ended at the first row boundary at which its
	// stored size reaches this many bytes. Encoders buffer (a Parquet row
	// group, a compressor's window, a few KiB of text), so a file can
	// exceed it by that much plus a row: leave a margin.
	MaxBytes int64
}

// Splitter is an Encoder that spreads rows over the data files of a Set,
// starting a new file (a new encoder on a new sink writer) whenever the
// current one reaches a limit. With no limits it writes one file. Every
// file is committed as soon as it is full, and the last at Close; a run
// with no rows still gets one (empty, but complete: header, footer) file.
// Close does not Commit the Set.
//
// It keeps the context given to NewSplitter for the sink writers it
// opens, because WriteRow has no context. It is used by one goroutine.
type Splitter[R any] struct {
	ctx    context.Context
	set    *Set
	newEnc NewEncoder[R]
	lim    Limits
	file   *File
	enc    Encoder[R]
	rows   int64 // rows in file
	total  int64
	closed bool
}

// NewSplitter returns a Splitter writing into set.
func NewSplitter[R any](ctx context.Context, set *Set, lim Limits, newEnc NewEncoder[R]) *Splitter[R] {
	return &Splitter[R]{ctx: ctx, set: set, newEnc: newEnc, lim: lim}
}

// WriteRow writes row to the current file, opening one if needed, and
// ends that file when it reaches a limit.
func (s *Splitter[R]) WriteRow(row R) error {
	if s.closed {
		return fmt.Errorf("publish %s: write after Close", s.set.opts.Dest)
	}
	if s.enc == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if err := s.enc.WriteRow(row); err != nil {
		return err
	}
	s.rows++
	s.total++
	if (s.lim.MaxRows > 0 && s.rows >= s.lim.MaxRows) || (s.lim.MaxBytes > 0 && s.file.Size() >= s.lim.MaxBytes) {
		return s.finish()
	}
	return nil
}

// Close ends and commits the current file; if no file was written yet, it
// writes an empty one first.
func (s *Splitter[R]) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.enc == nil {
		if len(s.set.files) > 0 {
			return nil
		}
		if err := s.open(); err != nil {
			return err
		}
	}
	return s.finish()
}

// Rows is the number of rows written so far, over all files.
func (s *Splitter[R]) Rows() int64 { return s.total }

func (s *Splitter[R]) open() error {
	f, err := s.set.Next(s.ctx)
	if err != nil {
		return err
	}
	enc, err := s.newEnc(f)
	if err != nil {
		return fmt.Errorf("start %s: %w", f.URI(), err)
	}
	s.file, s.enc, s.rows = f, enc, 0
	return nil
}

func (s *Splitter[R]) finish() error {
	enc, f := s.enc, s.file
	s.enc, s.file = nil, nil
	if err := enc.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", f.URI(), err)
	}
	return f.Commit(s.rows)
}
