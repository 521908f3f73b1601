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
	buf []byte // canonical form not yet hashed, at most about digestBuffer
}

// digestBuffer is how much of the canonical form Row gathers before
// hashing it.
const digestBuffer = 32 << 10

// NewDigest starts the digest of a result with schema s.
func NewDigest(s Schema) *Digest {
	d := &Digest{h: sha256.New(), buf: make([]byte, 0, digestBuffer+4<<10)}
	d.buf = append(d.buf, digestVersion...)
	d.buf = binary.AppendUvarint(d.buf, uint64(len(s.Fields)))
	for _, f := range s.Fields {
		d.buf = appendBytes(d.buf, []byte(f.Name))
		d.buf = appendBytes(d.buf, []byte(f.Label))
		d.buf = append(d.buf, byte(f.Type))
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

// Row adds one row.
func (d *Digest) Row(r Row) {
	b := binary.AppendUvarint(d.buf, uint64(len(r)))
	for _, c := range r {
		if c.Null {
			b = append(b, 0)
			continue
		}
		if len(b)+len(c.Value) > digestBuffer { // a large value: hashed where it is
			d.h.Write(b)
			b = b[:0]
			if len(c.Value) > digestBuffer {
				b = binary.AppendUvarint(append(b, 1), uint64(len(c.Value)))
				d.h.Write(b)
				d.h.Write(c.Value)
				b = b[:0]
				continue
			}
		}
		b = append(b, 1)
		b = appendBytes(b, c.Value)
	}
	if len(b) >= digestBuffer {
		d.h.Write(b)
		b = b[:0]
	}
	d.buf = b
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
