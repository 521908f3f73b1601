package formats

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// digestVersion starts every digest's input: a change to the canonical
// form below must change it, so that no two forms ever compare equal.
const digestVersion = "exporter rows v1\n"

// Digest is the content hash of a result: SHA-256 over a canonical form
// of its columns (name, label, type, local) and its decoded rows, cell by
// cell (null or the value's bytes as Looker sent them, length-prefixed).
// The same rows from Looker hash the same whatever the output format,
// compression, split or object names, and whenever they ran; any
// difference in a value, a row, the row order or the columns changes it.
// It never holds the rows: they are hashed as they are read, a few KiB at
// a time (one SHA-256 write per row cost more than hashing it).
type Digest struct {
	h   hash.Hash
	buf []byte        // canonical form not yet hashed
	bg  *digestWorker // hashes full buffers; nil unless Concurrent
	// hashed counts the bytes hashed in pieces of the start buffer, up to
	// digestBuffer: from there on the result is large (see digestStart).
	hashed int
}

// digestBuffer is how much of the canonical form Row gathers before
// hashing it, once the result is large.
const digestBuffer = 32 << 10

// digestStart is the buffer a digest starts with. Until digestBuffer bytes
// of a result were hashed, Row hashes it, on the caller's goroutine, each
// time half of it is full, so that a row fits without the buffer growing:
// most results of a burst of small runs are a few KiB, and a buffer grown
// by append to hold them (or one of 36 KiB), made and collected per run,
// cost more than hashing them in pieces. Larger results then gather
// digestBuffer bytes per hash (and hand them to Concurrent's goroutine).
const digestStart = 1 << 10

// NewDigest starts the digest of a result with schema s.
func NewDigest(s Schema) *Digest {
	d := &Digest{h: sha256.New(), buf: make([]byte, 0, digestStart)}
	d.buf = append(d.buf, digestVersion...)
	d.buf = binary.AppendUvarint(d.buf, uint64(len(s.Fields)))
	for _, f := range s.Fields {
		d.buf = appendBytes(d.buf, []byte(f.Name))
		d.buf = appendBytes(d.buf, []byte(f.Label))
		d.buf = append(d.buf, byte(f.Type))
		if f.Type == Decimal { // its size is part of its type (a type no digest before it had)
			d.buf = binary.AppendUvarint(d.buf, uint64(f.Precision))
			d.buf = binary.AppendUvarint(d.buf, uint64(f.Scale))
		}
		if f.IsLocal() {
			d.buf = append(d.buf, 1)
		} else {
			d.buf = append(d.buf, 0)
		}
	}
	return d
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// Row adds one row. Its cells may be reused once Row returns.
func (d *Digest) Row(r Row) {
	buf := binary.AppendUvarint(d.buf, uint64(len(r)))
	for i := range r {
		c := &r[i]
		if c.Null {
			buf = append(buf, 0)
			continue
		}
		v := c.Value
		// Most values are short and fit: their length is one byte of
		// uvarint, written in place (no append, no uvarint loop).
		if n := len(buf); len(v) < 0x80 && n+2+len(v) <= cap(buf) {
			buf = buf[:n+2+len(v)]
			buf[n], buf[n+1] = 1, byte(len(v))
			copy(buf[n+2:], v)
			continue
		}
		buf = binary.AppendUvarint(append(buf, 1), uint64(len(v)))
		for len(buf)+len(v) > digestBuffer { // a large value goes in pieces
			k := max(digestBuffer-len(buf), 0)
			d.buf = append(buf, v[:k]...)
			v = v[k:]
			d.flush()
			buf = d.buf
		}
		buf = append(buf, v...)
	}
	d.buf = buf
	switch {
	case d.hashed < digestBuffer: // small so far
		if len(d.buf) >= digestStart/2 {
			d.h.Write(d.buf)
			d.hashed += len(d.buf)
			d.buf = d.buf[:0]
		}
	case len(d.buf) >= digestBuffer:
		d.flush()
	}
}

// flush hashes the buffer, or hands it to the hashing goroutine.
func (d *Digest) flush() {
	if d.bg == nil {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
		return
	}
	d.buf = d.bg.swap(d.h, d.buf)
}

// Concurrent moves the hashing to a goroutine of its own until the
// returned wait is called, so that it overlaps with the caller's decoding:
// Row then only fills buffers (digestSpares of them, of about
// digestBuffer bytes, in flight) and hands them over. The goroutine and
// the spare buffers are made when the first buffer fills: a result smaller
// than digestBuffer is hashed by Sum, on the caller's goroutine, and costs
// neither. wait returns once everything handed over is hashed; call it,
// once, on every path, before Sum and before d is used from another
// goroutine. The digest is the same either way.
func (d *Digest) Concurrent() (wait func()) {
	bg := &digestWorker{}
	d.bg = bg
	return func() {
		if bg.full != nil {
			close(bg.full)
			<-bg.done
		}
		d.bg = nil
	}
}

// digestSpares is how many buffers a Concurrent digest has besides the
// one Row fills.
const digestSpares = 2

// digestWorker is the hashing goroutine of a Concurrent digest, started
// by its first swap.
type digestWorker struct {
	full   chan []byte   // filled buffers to hash; closed by wait
	free   chan []byte   // hashed buffers to fill again
	done   chan struct{} // closed when the goroutine has hashed everything
	spares int           // spare buffers made so far
}

// swap hands the filled buffer b to the goroutine, starting it on first
// use, and returns an empty buffer to fill: a new one until digestSpares
// exist, then one the goroutine has hashed.
func (w *digestWorker) swap(h hash.Hash, b []byte) []byte {
	if w.full == nil {
		w.full = make(chan []byte, digestSpares)
		w.free = make(chan []byte, digestSpares)
		w.done = make(chan struct{})
		go func() {
			defer close(w.done)
			for b := range w.full {
				h.Write(b)
				w.free <- b[:0] // never blocks: free has room for every buffer
			}
		}()
	}
	w.full <- b
	if w.spares < digestSpares {
		w.spares++
		return make([]byte, 0, digestBuffer+4<<10)
	}
	return <-w.free
}

// Sum is the digest of the columns and the rows added so far, as
// "sha256:" and lower-case hex.
func (d *Digest) Sum() string {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
	return "sha256:" + hex.EncodeToString(d.h.Sum(nil))
}

// Reader returns r with every row it yields added to d. Read d's Sum only
// after the last row was read (formats.Copy has returned).
func (d *Digest) Reader(r RowReader) RowReader { return &digestReader{RowReader: r, d: d} }

type digestReader struct {
	RowReader
	d *Digest
}

func (r *digestReader) Next() (Row, error) {
	row, err := r.RowReader.Next()
	if err == nil {
		r.d.Row(row)
	}
	return row, err
}
