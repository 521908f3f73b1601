package lookerapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"
)

// ErrInBandError means Looker answered HTTP 200 but the body is not the
// data that was asked for: an error in the body (`looker_error`, a bare
// "SQL Error: ..." text), an HTML page (a proxy's or a sign-in page), or a
// Content-Type that does not fit the result format (NOTES §13.2). The
// *Error that wraps it is permanent and its Message holds the database's
// message, or a snippet of the text or page.
var ErrInBandError = errors.New("Looker answered HTTP 200 with something other than the requested data")

// Bounds of the in-band check. A CSV or TSV header longer than
// maxHeaderLine is not a header Looker would send (10,000 columns of
// 400-byte labels fit). The message of a looker_error is cut at
// maxInBandMessage.
const (
	maxHeaderLine    = 4 << 20
	maxInBandMessage = 64 << 10
	sniffLen         = 512 // bytes of a non-JSON body looked at for a JSON or HTML error
)

// resultCheck says what a result body must look like.
type resultCheck struct {
	format string
	// header holds the labels a csv or txt header must carry, in order;
	// nil when they are not known (pivots, apply_vis, unknown fields).
	header []string
	// headOnly: a JSON body is scanned for looker_error in its first
	// bytes only, because the caller decodes it (RunOptions.DecodesJSON).
	headOnly bool
}

func jsonFormat(format string) bool {
	switch format {
	case "json", "json_bi", "json_label", "json_detail", "json_fe", "inline_json":
		return true
	}
	return false
}

// contentTypeFits reports whether a response Content-Type fits a result
// format. Looker's content types are not in its spec (NOTES §3.2), so the
// check is lenient: a missing Content-Type is accepted, and so is any
// type that Looker or a proxy might plausibly send for the format. What
// it rejects is a type that means something else: an HTML page for csv,
// JSON (an error object) for xlsx.
func contentTypeFits(format, contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	isJSON := mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
	switch {
	case jsonFormat(format):
		return isJSON
	case format == "csv":
		return mt == "text/csv" || mt == "text/plain" || mt == "application/csv" || mt == "text/comma-separated-values"
	case format == "txt":
		return mt == "text/plain" || mt == "text/tab-separated-values"
	case format == "html":
		return mt == "text/html"
	case format == "md":
		return mt == "text/markdown" || mt == "text/x-markdown" || mt == "text/plain"
	case format == "sql":
		return mt == "application/sql" || mt == "text/plain" || mt == "text/x-sql" || mt == "application/x-sql" || mt == "text/sql"
	case format == "png":
		return mt == "image/png" || mt == "application/octet-stream"
	case format == "jpg":
		return mt == "image/jpeg" || mt == "application/octet-stream"
	case format == "pdf":
		return mt == "application/pdf" || mt == "application/octet-stream"
	default: // xlsx, gsxml, odc and other binary or rarely used formats
		return mt != "text/html" && !isJSON
	}
}

// inBandBody passes a result body on once it has checked it: the
// Content-Type, the start of the body (no HTML page, no bare error text,
// a CSV/TSV header that is a header), and, for the JSON formats, every
// byte for a `looker_error` key. It holds back each chunk until it is
// checked, so after a detection nothing more reaches the caller: Read
// returns the *Error (wrapping ErrInBandError) from then on.
type inBandBody struct {
	rc   io.ReadCloser
	chk  resultCheck
	ct   string
	fail func(message string) error // builds the *Error

	started bool
	pending []byte // checked bytes not yet handed out
	scan    *jsonScanner
	err     error // sticky
}

func newInBandBody(rc io.ReadCloser, chk resultCheck, contentType string, fail func(string) error) *inBandBody {
	b := &inBandBody{rc: rc, chk: chk, ct: contentType, fail: fail}
	if jsonFormat(chk.format) {
		b.scan = &jsonScanner{}
	}
	return b
}

func (b *inBandBody) Close() error { return b.rc.Close() }

func (b *inBandBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.started {
		b.started = true
		head, err := b.checkHead()
		if err != nil {
			b.err = err
			return 0, err
		}
		b.pending = head
		if b.chk.headOnly {
			b.scan = nil // the caller's decoder reads the rest (RunOptions.DecodesJSON)
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	n, err := b.rc.Read(p)
	if n > 0 && b.scan != nil {
		if b.scan.feed(p[:n]) {
			b.err = b.fail(b.finishMessage())
			return 0, b.err
		}
	}
	return n, err
}

// finishMessage reads on (bounded) until the looker_error value is
// complete and returns it.
func (b *inBandBody) finishMessage() string {
	buf := make([]byte, 4096)
	for !b.scan.valueDone() && b.scan.valueLen() < maxInBandMessage {
		n, err := b.rc.Read(buf)
		b.scan.feed(buf[:n])
		if err != nil {
			break
		}
	}
	return b.scan.message()
}

// headBuffers are readHead's read buffers, reused: every run reads its
// result's head through one, and a burst of runs would otherwise allocate
// and collect one per run.
var headBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readHead reads until stop says the head is complete, EOF, or limit
// bytes. It returns the bytes read (a copy: the read buffer is reused).
func (b *inBandBody) readHead(limit int, stop func([]byte) bool) ([]byte, error) {
	var head []byte
	bp := headBuffers.Get().(*[]byte)
	defer headBuffers.Put(bp)
	buf := *bp
	for !stop(head) && len(head) < limit {
		n, err := b.rc.Read(buf)
		head = append(head, buf[:n]...)
		if err == io.EOF {
			return head, nil
		}
		if err != nil {
			return head, err
		}
	}
	return head, nil
}

// checkHead reads the start of the body and checks it; it returns the bytes
// read, to be handed out first.
func (b *inBandBody) checkHead() ([]byte, error) {
	format := b.chk.format
	if !contentTypeFits(format, b.ct) {
		head, _ := b.readHead(maxInBandMessage, func(h []byte) bool { return false })
		return nil, b.fail(fmt.Sprintf("Content-Type %q does not fit result format %s: %s", b.ct, format, describe(head)))
	}
	lineFormat := format == "csv" || format == "txt"
	head, err := b.readHead(maxHeaderLine, func(h []byte) bool { return headComplete(trimStart(h), lineFormat) })
	if err != nil {
		return nil, err
	}
	t := trimStart(head)
	if format != "html" && looksLikeHTML(t) {
		more, _ := b.readHead(4096, func([]byte) bool { return false })
		return nil, b.fail(fmt.Sprintf("an HTML page instead of %s data (a proxy's or a sign-in page?): %s", format, snippet(string(append(head, more...)))))
	}
	switch {
	case b.scan != nil:
		if len(t) > 0 && t[0] != '{' && t[0] != '[' {
			return nil, b.fail(describe(head))
		}
		if b.scan.feed(head) {
			return nil, b.fail(b.finishMessage())
		}
	case len(t) > 0 && (t[0] == '{' || t[0] == '['):
		// A JSON document where csv, txt, xlsx... was asked for: an error object.
		s := &jsonScanner{}
		if s.feed(head) {
			b.scan = s
			return nil, b.fail(b.finishMessage())
		}
		if !lineFormat && format != "sql" && format != "md" {
			return nil, b.fail(describe(head))
		}
	}
	if lineFormat {
		if err := b.checkHeader(head); err != nil {
			return nil, err
		}
	}
	if magic, ok := fileMagic[format]; ok && !bytes.HasPrefix(head, magic) {
		return nil, b.fail(describe(head)) // e.g. an xlsx file is a zip archive; a render not the document asked for
	}
	return head, nil
}

// headComplete reports whether the start t of a body is enough to check:
// for csv and txt the first line (and the second after a looker_error
// header, for its message), else the first bytes.
func headComplete(t []byte, lineFormat bool) bool {
	if !lineFormat || (len(t) > 0 && (t[0] == '{' || t[0] == '[')) {
		return len(t) >= sniffLen
	}
	i := bytes.IndexByte(t, '\n')
	if i < 0 {
		return false
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimLeft(string(t[:i]), `"`)), "looker_error") {
		return bytes.IndexByte(t[i+1:], '\n') >= 0
	}
	return true
}

// checkHeader checks the first line of a csv or txt body.
func (b *inBandBody) checkHeader(head []byte) error {
	line, rest, _ := bytes.Cut(trimStart(head), []byte("\n"))
	if len(bytes.TrimSpace(line)) == 0 {
		if len(bytes.TrimSpace(rest)) == 0 {
			return nil // an empty body: the caller decides what no header means
		}
		return b.fail("the first line is empty, not a header: " + describe(rest))
	}
	cells := splitHeader(line, b.chk.format)
	first := strings.TrimSpace(cells[0])
	if strings.EqualFold(first, "looker_error") {
		msg := ""
		if next, _, _ := bytes.Cut(rest, []byte("\n")); len(next) > 0 {
			msg = strings.TrimSpace(splitHeader(next, b.chk.format)[0])
		}
		return b.fail(nonEmpty(msg, "looker_error (Looker sent no message)"))
	}
	if errorText(string(line)) {
		return b.fail(describe(head))
	}
	if want := b.chk.header; want != nil {
		if !sameLabels(cells, want) {
			return b.fail(fmt.Sprintf("the first line is not the expected header (%s): %s", strings.Join(want, ", "), snippet(string(line))))
		}
	}
	return nil
}

// splitHeader splits a header line into cells; a line that is not valid
// CSV (a label with a line break in it) is taken as one cell. A line
// without quotes, as Looker's headers mostly are, is split at its
// separators, which is what a csv.Reader would make of it without the
// reader and its buffers (5.6 KB per run).
func splitHeader(line []byte, format string) []string {
	line = bytes.TrimRight(line, "\r")
	comma := ','
	if format == "txt" {
		comma = '\t'
	}
	if bytes.IndexByte(line, '"') < 0 {
		return strings.Split(string(line), string(comma))
	}
	r := csv.NewReader(bytes.NewReader(line))
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	r.Comma = comma
	cells, err := r.Read()
	if err != nil || len(cells) == 0 {
		return []string{string(line)}
	}
	return cells
}

func sameLabels(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(strings.Join(strings.Fields(got[i]), " "), strings.Join(strings.Fields(want[i]), " ")) {
			return false
		}
	}
	return true
}

// errorText reports whether a first line reads like an error rather than
// a header.
func errorText(line string) bool {
	l := strings.ToLower(strings.TrimSpace(line))
	for _, p := range []string{"sql error", "error:", "error -", "looker error", "an error occurred"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// trimStart skips a UTF-8 byte order mark and leading white space.
func trimStart(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.TrimLeft(b, " \t\r\n")
}

func looksLikeHTML(t []byte) bool {
	if len(t) == 0 || t[0] != '<' {
		return false
	}
	l := strings.ToLower(string(t[:min(len(t), 16)]))
	for _, p := range []string{"<!doctype", "<html", "<head", "<body", "<!--"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// describe returns the message a body that is not data holds: the value of
// a looker_error key, or a snippet of the text.
func describe(head []byte) string {
	t := trimStart(head)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		s := &jsonScanner{}
		if s.feed(t) {
			return s.message()
		}
	}
	if line, rest, ok := bytes.Cut(t, []byte("\n")); ok && strings.EqualFold(strings.Trim(strings.TrimSpace(string(line)), `"`), "looker_error") {
		next, _, _ := bytes.Cut(rest, []byte("\n"))
		return nonEmpty(strings.TrimSpace(splitHeader(next, "csv")[0]), "looker_error (Looker sent no message)")
	}
	if len(t) == 0 {
		return "an empty body"
	}
	if !isText(t) {
		return fmt.Sprintf("%d bytes of binary data", len(t))
	}
	return snippet(string(t))
}

func isText(b []byte) bool {
	for _, c := range b[:min(len(b), sniffLen)] {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			return false
		}
	}
	return true
}

// jsonScanner finds a `looker_error` key anywhere in a JSON document fed
// to it in chunks: a string followed by a colon is a key; text inside
// string values (escaped quotes included) is never taken for one. Memory is
// bounded: it keeps at most the key being matched and, once found, the
// key's value up to maxInBandMessage bytes.
type jsonScanner struct {
	inString bool
	escaped  bool
	key      []byte // the current string's bytes while it can still be "looker_error"
	overflow bool   // the current string is longer than the key
	// candidate: a string equal to the key just ended; a colon makes it a key.
	candidate bool
	found     bool
	// value capture, after the key's colon
	value    []byte
	started  bool
	inValStr bool
	valEsc   bool
	depth    int
	done     bool
}

var lookerErrorKey = []byte("looker_error")

// feed scans p and reports whether the key has been found (now or before).
// It jumps from quote to quote (bytes.IndexByte): between strings only a
// colon after a candidate key matters, and inside a string only its end.
// This check sees every byte of every JSON result, so a byte-by-byte state
// machine here was a quarter of the CPU of a json_bi export.
func (s *jsonScanner) feed(p []byte) bool {
	i := 0
	for i < len(p) {
		if s.found {
			for ; i < len(p) && !s.done && len(s.value) < maxInBandMessage; i++ {
				s.capture(p[i])
			}
			return true
		}
		if s.inString {
			start := i
			for {
				q := bytes.IndexByte(p[i:], '"')
				if q < 0 {
					s.keyBytes(p[start:])
					s.escaped = oddBackslashes(p, start, len(p), s.escaped)
					return false
				}
				q += i
				if oddBackslashes(p, start, q, s.escaped) {
					i = q + 1 // an escaped quote: the string goes on
					continue
				}
				s.keyBytes(p[start:q])
				s.inString, s.escaped = false, false
				s.candidate = !s.overflow && bytes.Equal(s.key, lookerErrorKey)
				i = q + 1
				break
			}
			continue
		}
		if !s.candidate {
			q := bytes.IndexByte(p[i:], '"')
			if q < 0 {
				return false
			}
			i += q + 1
			s.inString, s.key, s.overflow = true, s.key[:0], false
			continue
		}
		c := p[i]
		i++
		switch c {
		case ' ', '\t', '\r', '\n':
		case ':':
			s.found, s.candidate = true, false
		case '"':
			s.candidate = false
			s.inString, s.key, s.overflow = true, s.key[:0], false
		default:
			s.candidate = false
		}
	}
	return s.found
}

// oddBackslashes reports whether the run of backslashes ending at p[end-1]
// is odd, counting back no further than p[start]; carried is the parity
// of the run that ended the previous chunk, which continues this one's
// when the run reaches start.
func oddBackslashes(p []byte, start, end int, carried bool) bool {
	k := end - 1
	for k >= start && p[k] == '\\' {
		k--
	}
	odd := (end-1-k)%2 == 1
	if k < start && carried {
		odd = !odd
	}
	return odd
}

// keyBytes adds raw bytes of a string to the key being matched: a string
// with a backslash in it, or longer than the key, is not the plain key.
func (s *jsonScanner) keyBytes(b []byte) {
	if s.overflow || len(b) == 0 {
		return
	}
	if len(s.key)+len(b) > len(lookerErrorKey) || bytes.IndexByte(b, '\\') >= 0 {
		s.overflow = true
		return
	}
	s.key = append(s.key, b...)
}

// capture records the value after the key: a string, or any other JSON
// value up to the comma or bracket that ends it.
func (s *jsonScanner) capture(c byte) {
	if s.done || len(s.value) >= maxInBandMessage {
		return
	}
	if !s.started {
		switch c {
		case ' ', '\t', '\r', '\n':
			return
		}
		s.started = true
		s.inValStr = c == '"'
		s.value = append(s.value, c)
		if c == '{' || c == '[' {
			s.depth = 1
		}
		return
	}
	if s.inValStr {
		s.value = append(s.value, c)
		switch {
		case s.valEsc:
			s.valEsc = false
		case c == '\\':
			s.valEsc = true
		case c == '"':
			if s.depth == 0 {
				s.done = true
			}
			s.inValStr = false
		}
		return
	}
	switch c {
	case '"':
		s.inValStr = true
	case '{', '[':
		s.depth++
	case '}', ']':
		if s.depth == 0 {
			s.done = true
			return
		}
		s.depth--
		if s.depth == 0 {
			s.value = append(s.value, c)
			s.done = true
			return
		}
	case ',':
		if s.depth == 0 {
			s.done = true
			return
		}
	}
	s.value = append(s.value, c)
}

func (s *jsonScanner) valueDone() bool { return s.done }
func (s *jsonScanner) valueLen() int   { return len(s.value) }

// message is the looker_error value as text.
func (s *jsonScanner) message() string {
	v := bytes.TrimSpace(s.value)
	var str string
	if len(v) > 0 && v[0] == '"' {
		if !s.done || json.Unmarshal(v, &str) != nil {
			str = strings.Trim(string(v), `"`) // cut short: show what came
		}
	} else {
		str = string(v)
	}
	str = strings.TrimSpace(str)
	if str == "" || str == "null" {
		return "looker_error (Looker sent no message)"
	}
	return str
}

// fileMagic is how a binary result of a format starts: xlsx is a zip
// archive; pdf, png and jpg (render task results) their file signatures.
var fileMagic = map[string][]byte{
	"xlsx": []byte("PK"),
	"pdf":  []byte("%PDF-"),
	"png":  []byte("\x89PNG\r\n\x1a\n"),
	"jpg":  {0xFF, 0xD8, 0xFF},
}

// checkedBody wraps the body of run request r in the in-band check chk.
func checkedBody(rc io.ReadCloser, contentType string, chk resultCheck, r *request) io.ReadCloser {
	return newInBandBody(rc, chk, contentType, func(msg string) error {
		return &Error{Source: r.source, Op: r.op, Method: r.method, Path: r.fullPath(), Message: msg, Err: ErrInBandError}
	})
}
