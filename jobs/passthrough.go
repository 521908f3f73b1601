package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// A passthrough holds at most passthroughChunks chunks of the body of
// passthroughChunk bytes: the copy fills free chunks while the decoder
// reads full ones; both sides use the same chunk, not a copy each.
const (
	passthroughChunk  = 256 << 10
	passthroughChunks = 8
)

// spareChunks is the process's free list of passthrough chunks: a run
// takes chunks as its body needs them (a small result, one) and gives
// them back, so that a burst of small runs does not allocate 2 MiB each
// (which, at GOGC 25, doubled the daemon's CPU per run in BenchmarkBurst).
// A channel, not a sync.Pool, which every collection empties; it keeps
// at most two runs' worth.
var spareChunks = make(chan []byte, 2*passthroughChunks)

func takeChunk() []byte {
	select {
	case c := <-spareChunks:
		return c
	default:
		return make([]byte, passthroughChunk)
	}
}

func giveChunk(c []byte) {
	select {
	case spareChunks <- c[:cap(c)]:
	default:
	}
}

// passthroughResult is what the decoding side of a passthrough learnt.
type passthroughResult struct {
	schema formats.Schema  // the csv's columns, as lookerdec read them
	digest *formats.Digest // of the rows, with localFields marked local
}

// passthrough copies body to w byte for byte while a second goroutine
// decodes the same bytes as Looker csv, to validate the result, count its
// rows into rows as they go (progress) and hash them (formats.Digest). The
// copy and the decoder overlap: the body is read in chunks of a small ring
// (passthroughChunks of passthroughChunk bytes), each written to w and
// handed to the decoder, and reused once the decoder is done with it, so
// memory stays bounded whatever the size of the result and a slow side
// holds the other back.
//
// The decoder sees exactly the bytes written to w, and an error reading
// body after them, so that it reports where the body broke ("read result:
// read looker csv body at row N: ..."). passthrough returns only once the
// decoder has stopped; it does not close w. Errors: the decoder's (a body
// that is not Looker csv, or the body's read error), a write error of w
// ("write csv: ..."), or context.Cause(ctx).
func passthrough(ctx context.Context, w io.Writer, body io.Reader, localFields []string, rows *atomic.Int64) (passthroughResult, error) {
	first := filled{buf: takeChunk()}
	first.n, first.err = fill(body, first.buf)
	if first.err == io.EOF {
		// The whole body fits in one chunk, as the results of most runs
		// of a burst do: write it and decode it on this goroutine, with
		// no second goroutine to start and hand chunks to.
		defer giveChunk(first.buf)
		if first.n > 0 {
			if err := write(w, first.buf[:first.n]); err != nil {
				return passthroughResult{}, err
			}
		}
		return decodePassthrough(ctx, bytes.NewReader(first.buf[:first.n]), localFields, rows)
	}
	p := &chunkPipe{
		free:  make(chan []byte, passthroughChunks),
		full:  make(chan []byte, passthroughChunks),
		stop:  make(chan struct{}),
		taken: 1, // first
	}
	defer p.giveBack()
	var res passthroughResult
	var decErr error
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		res, decErr = decodePassthrough(ctx, p, localFields, rows)
	}()

	err := p.pump(ctx, w, body, decoded, first)
	if err != nil {
		close(p.stop)
	}
	<-decoded
	if err != nil {
		return passthroughResult{}, err
	}
	return res, decErr
}

// filled is a chunk filled from the body: n bytes, and the read's error.
type filled struct {
	buf []byte
	n   int
	err error
}

// write writes b to w: a csv's bytes to the compressor and sink.
func write(w io.Writer, b []byte) (err error) {
	defer func() {
		if v := recover(); v != nil { // a bug in a compressor or a sink
			err = fmt.Errorf("write csv: %w", formats.Recovered(v))
		}
	}()
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// decodePassthrough reads r as Looker csv, hashing and counting its rows.
func decodePassthrough(ctx context.Context, r io.Reader, localFields []string, rows *atomic.Int64) (res passthroughResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &formats.ReadError{Err: formats.Recovered(v)}
		}
	}()
	dec, err := lookerdec.NewCSV(r)
	if err != nil {
		return res, fmt.Errorf("read csv result: %w", err)
	}
	res.schema = dec.Schema()
	// The digest sees the columns as a re-encoding run would, so that
	// splitting a job later does not change its content hash.
	res.digest = formats.NewDigest(formats.MarkLocal(res.schema, localFields))
	// SHA-256 costs a third of what decoding does (BenchmarkPassthroughDecode):
	// overlap the two.
	wait := res.digest.Concurrent()
	defer wait()
	var counted int64
	// One batch: the rows are only read, on this goroutine, never copied.
	_, err = formats.Copy(ctx, nil, res.digest.Reader(dec), formats.CopyOptions{Batches: 1, Progress: func(n int64) {
		rows.Add(n - counted)
		counted = n
	}})
	return res, err
}

// chunkPipe carries the chunks of a passthrough from the copy to the
// decoder, which reads them as an io.Reader.
type chunkPipe struct {
	free chan []byte   // chunks the copy may fill (capacity: all of them)
	full chan []byte   // filled chunks for the decoder; closed after the last
	stop chan struct{} // closed when the copy failed: the decoder stops
	end  error         // set before full is closed: why the body ended

	cur   []byte // unread part of the decoder's chunk
	chunk []byte // the decoder's chunk, returned to free when read
	taken int    // chunks taken from spareChunks, at most passthroughChunks
}

// giveBack returns the chunks in the pipe to spareChunks once both sides
// have stopped.
func (p *chunkPipe) giveBack() {
	for {
		select {
		case c := <-p.free:
			giveChunk(c)
		case c, ok := <-p.full:
			if !ok {
				p.full = nil // closed: drained
				continue
			}
			giveChunk(c)
		default:
			return
		}
	}
}

// pump is the copying side: it fills chunks from body, hands each to the
// decoder and writes it to w, until body ends, a write fails, ctx ends or
// the decoder stopped early (decoded is closed). first is the body's first
// chunk, filled already. It returns nil when the decoder has every byte
// and the reason the body ended; the decoder's error, if any, is then the
// result.
func (p *chunkPipe) pump(ctx context.Context, w io.Writer, body io.Reader, decoded <-chan struct{}, first filled) error {
	c := first
	for {
		if c.buf == nil {
			var buf []byte
			select {
			case buf = <-p.free:
			default:
				if p.taken < passthroughChunks { // the ring grows as the body needs it
					p.taken++
					buf = takeChunk()
					break
				}
				select {
				case buf = <-p.free:
				case <-decoded: // failed without reading the rest: its error is the result
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
			c = filled{buf: buf}
			c.n, c.err = fill(body, buf[:cap(buf)])
		}
		if c.n > 0 {
			p.full <- c.buf[:c.n] // never blocks: full has room for every chunk
			if err := write(w, c.buf[:c.n]); err != nil {
				return err
			}
		} else {
			p.free <- c.buf
		}
		if c.err != nil {
			p.end = c.err
			close(p.full)
			return nil
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		c = filled{}
	}
}

// fill reads from r until buf is full or r fails (io.EOF at the end).
// Fewer, larger writes are cheaper for the compressor and the sink.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// errCopyStopped is what the decoder reads once the copy failed; the
// copy's error is the result.
var errCopyStopped = errors.New("copy stopped")

// Read is the decoder's side of the pipe.
func (p *chunkPipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.chunk != nil {
			p.free <- p.chunk[:cap(p.chunk)] // never blocks
			p.chunk = nil
		}
		select {
		case c, ok := <-p.full:
			if !ok {
				return 0, p.end
			}
			p.chunk, p.cur = c, c
		case <-p.stop:
			return 0, errCopyStopped
		}
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}
