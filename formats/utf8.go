package formats

import (
	"io"
	"sync/atomic"
	"unicode/utf8"
)

// UTF8Reader passes a text body through, replacing invalid UTF-8: the
// exporter's one policy for every format (decoded or copied byte for byte)
// is that each invalid sequence becomes U+FFFD and the run counts the
// replacements; nothing else changes.
//
// "Invalid sequence" is the maximal subpart of the Unicode Standard (§3.9,
// "U+FFFD Substitution of Maximal Subparts", also the WHATWG Encoding
// Standard's decoder): the longest run of bytes that starts a well-formed
// sequence but does not complete it, or else a single byte that can start
// none, becomes one U+FFFD. "\xe2\x82" before "A" is one U+FFFD (a
// truncated euro sign), "\xc0\xaf" is two, "\xed\xa0\x80" (a UTF-16
// surrogate) is three. Go's strings.ToValidUTF8 would replace a whole run
// of invalid bytes by one U+FFFD; utf8.DecodeRune reads every invalid byte
// as one; maximal subparts sit between and are what browsers do.
//
// A sequence split between two reads of the underlying reader is held back
// until it completes, so the output never depends on how the body was
// chunked. A sequence the body ends inside is invalid.
//
// Valid input is passed through without copying into an intermediate
// buffer when the caller's buffer holds at least 64 bytes: the check is
// utf8.Valid over what was read (several GB/s on ASCII).
type UTF8Reader struct {
	r        io.Reader
	carry    [utf8.UTFMax]byte // bytes of an unfinished sequence held back from the last read
	ncarry   int
	out      []byte // replaced output not yet delivered
	outBuf   []byte
	src      []byte
	replaced atomic.Int64
	err      error // from r; returned once carry and out are used up
}

// NewUTF8Reader returns a reader of r's bytes with every invalid UTF-8
// sequence replaced by U+FFFD.
func NewUTF8Reader(r io.Reader) *UTF8Reader { return &UTF8Reader{r: r} }

// Replaced returns how many U+FFFD have been written in place of invalid
// sequences so far. It is safe to call concurrently with Read.
func (u *UTF8Reader) Replaced() int64 { return u.replaced.Load() }

// minDirect is the smallest caller buffer Read fills directly: it must
// hold the held-back bytes and some new input.
const minDirect = 64

// Read reads up to len(p) bytes. It returns the underlying reader's error
// (io.EOF at the end) once everything before it has been returned.
func (u *UTF8Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(u.out) > 0 {
			n := copy(p, u.out)
			u.out = u.out[n:]
			return n, nil
		}
		if u.err != nil {
			if u.ncarry > 0 { // the body ended inside a sequence
				src := append(u.src[:0], u.carry[:u.ncarry]...)
				u.src, u.ncarry = src, 0
				u.setOut(u.replace(u.outBuf[:0], src, true))
				continue
			}
			return 0, u.err
		}
		buf := p
		if len(p) < minDirect {
			if cap(u.src) < 4096 {
				u.src = make([]byte, 4096)
			}
			buf = u.src[:cap(u.src)]
		}
		k := copy(buf, u.carry[:u.ncarry])
		n, err := u.r.Read(buf[k:])
		if err != nil {
			u.err = err
		}
		if n == 0 {
			if err == nil {
				return 0, nil // the carry stays held back
			}
			continue
		}
		u.ncarry = 0
		m := k + n
		atEOF := u.err != nil
		if len(p) >= minDirect {
			tail := 0
			if !atEOF {
				tail = unfinishedTail(p[:m])
			}
			if utf8.Valid(p[:m-tail]) { // the fast path
				u.ncarry = copy(u.carry[:], p[m-tail:m])
				if m > tail {
					return m - tail, nil
				}
				continue
			}
			buf = append(u.src[:0], p[:m]...)
			u.src = buf
		}
		u.setOut(u.replace(u.outBuf[:0], buf[:m], atEOF))
	}
}

func (u *UTF8Reader) setOut(b []byte) { u.outBuf, u.out = b, b }

// unfinishedTail returns how many bytes at the end of b are the start of a
// multi-byte sequence longer than what b holds of it (0 when b ends with a
// whole sequence or an ASCII byte). Whether they are valid is checked once
// the rest has been read.
func unfinishedTail(b []byte) int {
	for k := 1; k <= min(utf8.UTFMax-1, len(b)); k++ {
		c := b[len(b)-k]
		switch {
		case c < utf8.RuneSelf:
			return 0
		case c >= 0xC0: // a lead byte
			size := 2
			if c >= 0xF0 {
				size = 4
			} else if c >= 0xE0 {
				size = 3
			}
			if size > k {
				return k
			}
			return 0
		}
	}
	return 0
}

// replace appends src to dst with each maximal invalid subpart replaced
// by U+FFFD. Unless atEOF, a valid but unfinished sequence at the end of
// src is held back in u.carry instead.
func (u *UTF8Reader) replace(dst, src []byte, atEOF bool) []byte {
	start := 0
	var n int64
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			i++
			continue
		}
		size, ok, short := sequence(src[i:])
		if ok {
			i += size
			continue
		}
		dst = append(dst, src[start:i]...)
		if short && !atEOF {
			u.ncarry = copy(u.carry[:], src[i:])
			start = len(src)
			break
		}
		dst = append(dst, "\uFFFD"...)
		n++
		i += size
		start = i
	}
	dst = append(dst, src[start:]...)
	if n > 0 {
		u.replaced.Add(n)
	}
	return dst
}

// sequence reads the UTF-8 sequence at the start of b (b[0] >= 0x80): ok
// with its size when it is well formed; otherwise the size of its maximal
// subpart (at least 1), and short when b ends before the sequence could be
// judged (more input might complete it). The accepted ranges are Table 3-7
// of the Unicode Standard.
func sequence(b []byte) (size int, ok, short bool) {
	c := b[0]
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		size = 2
	case c == 0xE0:
		size, lo = 3, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		size = 3
	case c == 0xED: // no surrogates
		size, hi = 3, 0x9F
	case c == 0xF0:
		size, lo = 4, 0x90
	case c >= 0xF1 && c <= 0xF3:
		size = 4
	case c == 0xF4: // nothing above U+10FFFF
		size, hi = 4, 0x8F
	default: // a continuation byte, C0, C1 or F5..FF: starts nothing
		return 1, false, false
	}
	for i := 1; i < size; i++ {
		if i == len(b) {
			return i, false, true
		}
		if b[i] < lo || b[i] > hi {
			return i, false, false
		}
		lo, hi = 0x80, 0xBF
	}
	return size, true, false
}
