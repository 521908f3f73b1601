package lookerdec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/lookertext"
)

// Value kinds recorded by the scanner.
const (
	kindString byte = 's'
	kindNumber byte = 'n'
	kindTrue   byte = 't'
	kindFalse  byte = 'f'
	kindNull   byte = 'z'
	kindRaw    byte = 'r' // a nested object or array, kept as JSON text
)

const maxNesting = 10000

// member is one key/value pair of a parsed object, as offsets into the
// scanner's arena.
type member struct {
	k0, k1, v0, v1 int
	kind           byte
}

// jsonScanner is a streaming JSON tokenizer over an io.Reader. Decoded
// strings and values are copied into arena, so the read buffer can move at
// any time and stays small.
type jsonScanner struct {
	r        io.Reader
	format   string
	buf      []byte
	pos, end int
	base     int64
	eof      bool
	rerr     error
	row      int // row being decoded, for errors
	arena    []byte
	members  []member // at most formats.MaxColumns
	width    int      // members of the last object read, counting those not kept
	dropped  bool     // a member not kept was an object (maybe a pivoted measure)
	stack    []byte
}

func newJSONScanner(r io.Reader, format string) *jsonScanner {
	return &jsonScanner{r: r, format: format, buf: make([]byte, initialBufferBytes)}
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return &DecodeError{
		Format:  s.format,
		Row:     s.row,
		Offset:  s.base + int64(s.pos),
		Snippet: snippet(s.buf[:s.end], s.pos, 32),
		Msg:     fmt.Sprintf(format, args...),
	}
}

func (s *jsonScanner) fill() error {
	return fillBuffer(&s.r, &s.buf, &s.pos, &s.end, &s.base, &s.eof, &s.rerr, 1, func(err error) error {
		if errors.Is(err, errTooLong) {
			return s.errorf("%v", err)
		}
		return fmt.Errorf("read looker %s body at row %d: %w", s.format, s.row, err)
	})
}

// ensure makes at least n unread bytes available.
func (s *jsonScanner) ensure(n int) error {
	for s.end-s.pos < n {
		if s.eof {
			return s.errorf("the body ends in the middle of a value (truncated result?)")
		}
		if err := s.fill(); err != nil {
			return err
		}
	}
	return nil
}

// peek skips whitespace and returns the next byte without consuming it.
// At the end of the body it returns ok == false.
func (s *jsonScanner) peek() (c byte, ok bool, err error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, true, nil
			}
		}
		if s.eof {
			return 0, false, nil
		}
		if err := s.fill(); err != nil {
			return 0, false, err
		}
	}
}

// next is peek that treats the end of the body as an error.
func (s *jsonScanner) next(what string) (byte, error) {
	c, ok, err := s.peek()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, s.errorf("the body ends where %s was expected (truncated result?)", what)
	}
	return c, nil
}

// expect consumes c or fails naming what was expected.
func (s *jsonScanner) expect(c byte, what string) error {
	got, err := s.next(what)
	if err != nil {
		return err
	}
	if got != c {
		return s.errorf("expected %s, found %q", what, got)
	}
	s.pos++
	return nil
}

// atEnd checks that nothing but whitespace follows.
func (s *jsonScanner) atEnd() error {
	_, ok, err := s.peek()
	if err != nil {
		return err
	}
	if ok {
		return s.errorf("unexpected data after the end of the result")
	}
	return nil
}

func (s *jsonScanner) tooLong(dst []byte) error {
	if len(dst) > maxRecordBytes {
		return s.errorf("a single row is longer than %d MiB", maxRecordBytes>>20)
	}
	return nil
}

// readString consumes a string and appends its unescaped text to dst.
func (s *jsonScanner) readString(dst []byte) ([]byte, error) {
	s.pos++ // opening quote
	for {
		data := s.buf[s.pos:s.end]
		i := 0
		for i < len(data) && plainStringByte[data[i]] {
			i++
		}
		dst = append(dst, data[:i]...)
		s.pos += i
		if i == len(data) {
			if err := s.tooLong(dst); err != nil {
				return dst, err
			}
			if s.eof {
				return dst, s.errorf("the body ends inside a string (truncated result?)")
			}
			if err := s.fill(); err != nil {
				return dst, err
			}
			continue
		}
		switch c := data[i]; {
		case c == '"':
			s.pos++
			return dst, nil
		case c < 0x20:
			return dst, s.errorf("control character %q inside a string", c)
		}
		// Backslash escape.
		if err := s.ensure(2); err != nil {
			return dst, err
		}
		e := s.buf[s.pos+1]
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if err := s.ensure(6); err != nil {
				return dst, err
			}
			r, ok := hex4(s.buf[s.pos+2 : s.pos+6])
			if !ok {
				return dst, s.errorf("invalid \\u escape in a string")
			}
			s.pos += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.ensure(6) == nil && s.buf[s.pos] == '\\' && s.buf[s.pos+1] == 'u' {
					if v, ok := hex4(s.buf[s.pos+2 : s.pos+6]); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					s.pos += 6
				} else {
					r = utf8.RuneError // lone surrogate, as encoding/json does
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, s.errorf("invalid escape \\%c in a string", e)
		}
		s.pos += 2
	}
}

var plainStringByte = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// readNumber consumes a number and appends its literal to dst.
func (s *jsonScanner) readNumber(dst []byte) ([]byte, error) {
	start := len(dst)
	for {
		for s.pos < s.end && numberByte[s.buf[s.pos]] {
			dst = append(dst, s.buf[s.pos])
			s.pos++
		}
		if s.pos < s.end || s.eof {
			break
		}
		if len(dst)-start > 1024 {
			return dst, s.errorf("number literal is too long")
		}
		if err := s.fill(); err != nil {
			return dst, err
		}
	}
	if !lookertext.ValidJSONNumber(dst[start:]) {
		return dst, s.errorf("invalid number %q", dst[start:])
	}
	return dst, nil
}

var numberByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return t
}()

// readLiteral consumes true, false or null.
func (s *jsonScanner) readLiteral(word string) error {
	if err := s.ensure(len(word)); err != nil {
		return err
	}
	if string(s.buf[s.pos:s.pos+len(word)]) != word {
		return s.errorf("invalid value (expected %s)", word)
	}
	s.pos += len(word)
	return nil
}

// readRaw consumes a nested object or array and appends its JSON text,
// without insignificant whitespace, to dst. It checks that brackets balance
// and that the text is valid JSON.
func (s *jsonScanner) readRaw(dst []byte) ([]byte, error) {
	start := len(dst)
	s.stack = s.stack[:0]
	for {
		c, err := s.next("the rest of a nested value")
		if err != nil {
			return dst, err
		}
		switch c {
		case '{', '[':
			if len(s.stack) >= maxNesting {
				return dst, s.errorf("values nested deeper than %d levels", maxNesting)
			}
			s.stack = append(s.stack, c)
			dst = append(dst, c)
			s.pos++
		case '}', ']':
			open := byte('{')
			if c == ']' {
				open = '['
			}
			if len(s.stack) == 0 || s.stack[len(s.stack)-1] != open {
				return dst, s.errorf("mismatched %q in a nested value", c)
			}
			s.stack = s.stack[:len(s.stack)-1]
			dst = append(dst, c)
			s.pos++
		case '"':
			// Keep the string escaped: re-encode what readString decoded.
			mark := len(dst)
			dst, err = s.readString(dst)
			if err != nil {
				return dst, err
			}
			str := string(dst[mark:])
			dst = dst[:mark]
			dst = appendJSONString(dst, str)
		case ',', ':':
			dst = append(dst, c)
			s.pos++
		case 't', 'f', 'n':
			word := "null"
			switch c {
			case 't':
				word = "true"
			case 'f':
				word = "false"
			}
			if err := s.readLiteral(word); err != nil {
				return dst, err
			}
			dst = append(dst, word...)
		default:
			if !numberByte[c] {
				return dst, s.errorf("invalid character %q in a nested value", c)
			}
			if dst, err = s.readNumber(dst); err != nil {
				return dst, err
			}
		}
		if err := s.tooLong(dst); err != nil {
			return dst, err
		}
		if len(s.stack) == 0 {
			if !json.Valid(dst[start:]) {
				return dst, s.errorf("malformed nested value")
			}
			return dst, nil
		}
	}
}

func appendJSONString(dst []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return append(dst, `""`...)
	}
	return append(dst, b...)
}

// readValue consumes any value, appends its text to dst (nothing for
// null) and returns its kind.
func (s *jsonScanner) readValue(dst []byte) ([]byte, byte, error) {
	c, err := s.next("a value")
	if err != nil {
		return dst, 0, err
	}
	switch {
	case c == '"':
		dst, err = s.readString(dst)
		return dst, kindString, err
	case c == '-' || c >= '0' && c <= '9':
		dst, err = s.readNumber(dst)
		return dst, kindNumber, err
	case c == 't':
		return append(dst, "true"...), kindTrue, s.readLiteral("true")
	case c == 'f':
		return append(dst, "false"...), kindFalse, s.readLiteral("false")
	case c == 'n':
		return dst, kindNull, s.readLiteral("null")
	case c == '{' || c == '[':
		dst, err = s.readRaw(dst)
		return dst, kindRaw, err
	}
	return dst, 0, s.errorf("invalid character %q where a value was expected", c)
}

// readObject consumes an object into s.members with keys and values in
// s.arena (both reset first). It keeps at most formats.MaxColumns members
// and counts the others in s.width: no row of a result the exporter handles
// is wider, and keeping them would let one row grow memory.
func (s *jsonScanner) readObject() error {
	s.arena = s.arena[:0]
	s.members = s.members[:0]
	s.width, s.dropped = 0, false
	if err := s.expect('{', "'{' starting a row object"); err != nil {
		return err
	}
	c, err := s.next("a key or '}'")
	if err != nil {
		return err
	}
	if c == '}' {
		s.pos++
		return nil
	}
	for {
		c, err := s.next("a key")
		if err != nil {
			return err
		}
		if c != '"' {
			return s.errorf("expected a quoted key, found %q", c)
		}
		var m member
		m.k0 = len(s.arena)
		if s.arena, err = s.readString(s.arena); err != nil {
			return err
		}
		m.k1 = len(s.arena)
		if err := s.expect(':', "':' after a key"); err != nil {
			return err
		}
		m.v0 = len(s.arena)
		if s.arena, m.kind, err = s.readValue(s.arena); err != nil {
			return err
		}
		m.v1 = len(s.arena)
		s.width++
		if len(s.members) < formats.MaxColumns {
			s.members = append(s.members, m)
		} else {
			s.dropped = s.dropped || m.kind == kindRaw && s.arena[m.v0] == '{'
			s.arena = s.arena[:m.k0]
		}
		if err := s.tooLong(s.arena); err != nil {
			return err
		}
		c, err = s.next("',' or '}'")
		if err != nil {
			return err
		}
		s.pos++
		switch c {
		case ',':
		case '}':
			return nil
		default:
			s.pos--
			return s.errorf("expected ',' or '}' after a value, found %q", c)
		}
	}
}

func (s *jsonScanner) key(m member) []byte   { return s.arena[m.k0:m.k1] }
func (s *jsonScanner) value(m member) []byte { return s.arena[m.v0:m.v1] }

// lookerError returns a *LookerError if the object just read carries a
// "looker_error" key.
func (s *jsonScanner) lookerError() error {
	for _, m := range s.members {
		if string(s.key(m)) == "looker_error" {
			return &LookerError{Row: s.row, Message: string(s.value(m))}
		}
	}
	return nil
}
