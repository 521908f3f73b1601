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
// It never holds the rows: each is hashed as it is read.
type Digest struct {
	h   hash.Hash
	buf []byte
}

// NewDigest starts the digest of a result with schema s.
func NewDigest(s Schema) *Digest {
	d := &Digest{h: sha256.New()}
	d.h.Write([]byte(digestVersion))
	d.buf = binary.AppendUvarint(d.buf[:0], uint64(len(s.Fields)))
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
	d.h.Write(d.buf)
	return d
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// Row adds one row.
func (d *Digest) Row(r Row) {
	d.buf = binary.AppendUvarint(d.buf[:0], uint64(len(r)))
	for _, c := range r {
		if c.Null {
			d.buf = append(d.buf, 0)
			continue
		}
		d.buf = append(d.buf, 1)
		d.buf = appendBytes(d.buf, c.Value)
	}
	d.h.Write(d.buf)
}

// Sum is the digest of the columns and the rows added so far, as
// "sha256:" and lower-case hex.
func (d *Digest) Sum() string {
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
