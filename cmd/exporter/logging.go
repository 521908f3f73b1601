package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/mattn/go-isatty"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log formats of --log-format.
const (
	logJSON    = "json"
	logConsole = "console"
	logGCP     = "gcp"
	logAuto    = "auto"
)

// gcpLabelsKey is the field Cloud Logging turns into the entry's labels.
// https://cloud.google.com/logging/docs/structured-logging
const (
	gcpLabelsKey         = "logging.googleapis.com/labels"
	gcpSourceLocationKey = "logging.googleapis.com/sourceLocation"
)

// gcpLabelFields are the fields that become Cloud Logging labels in the gcp
// format (other formats keep them as ordinary fields).
var gcpLabelFields = map[string]bool{"job": true, "run_id": true}

// logger builds the process logger from --log-format and --log-level. Its
// lines go through g's terminal, so they never land in the middle of the
// progress line.
func (g *globals) logger() (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(g.logLevel)
	if err != nil {
		return nil, usageErr("--log-level %q: use debug, info, warn or error", g.logLevel)
	}
	format := g.logFormat
	if format == logAuto {
		format = autoLogFormat(g.term().tty, os.Getenv, onGCE)
	}
	out := zapcore.Lock(zapcore.AddSync(g.term()))
	switch format {
	case logJSON:
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(ec), out, level)), nil
	case logConsole:
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = consoleTime
		return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(ec), out, level)), nil
	case logGCP:
		return zap.New(newGCPCore(out, level), zap.AddCaller()), nil
	}
	return nil, usageErr("--log-format %q: use json, console, gcp or auto", g.logFormat)
}

// printError prints a command's error, stripped of terminal control: it may
// quote Looker.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "exporter:", sanitize(err.Error()))
}

// consoleTime writes a console line's time in full: date, milliseconds, UTC.
func consoleTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// autoLogFormat picks the format for --log-format auto: console on a
// terminal; gcp on Cloud Run (K_SERVICE is set) and on GKE
// (KUBERNETES_SERVICE_HOST is set and the GCE metadata server answers);
// json elsewhere.
func autoLogFormat(tty bool, getenv func(string) string, gce func() bool) string {
	switch {
	case tty:
		return logConsole
	case getenv("K_SERVICE") != "":
		return logGCP
	case getenv("KUBERNETES_SERVICE_HOST") != "" && gce():
		return logGCP
	}
	return logJSON
}

// onGCE reports whether the GCE metadata server answers, giving up after
// two seconds so that a cluster elsewhere does not wait on it.
func onGCE() bool {
	res := make(chan bool, 1)
	go func() { res <- metadata.OnGCE() }()
	select {
	case ok := <-res:
		return ok
	case <-time.After(2 * time.Second):
		return false
	}
}

// gcpCore writes Cloud Logging's structured JSON: severity, message, time,
// and the job and run_id fields as logging.googleapis.com/labels.
type gcpCore struct {
	zapcore.Core
	labels map[string]string
}

func newGCPCore(out zapcore.WriteSyncer, level zapcore.LevelEnabler) zapcore.Core {
	ec := zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "severity",
		NameKey:        "logger",
		MessageKey:     "message",
		StacktraceKey:  "stacktrace",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    gcpSeverity,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.SecondsDurationEncoder, // as the json format
	}
	return &gcpCore{Core: zapcore.NewCore(zapcore.NewJSONEncoder(ec), out, level)}
}

// gcpSeverities are Cloud Logging's LogSeverity names of zap's levels.
var gcpSeverities = map[zapcore.Level]string{
	zapcore.DebugLevel:  "DEBUG",
	zapcore.InfoLevel:   "INFO",
	zapcore.WarnLevel:   "WARNING",
	zapcore.ErrorLevel:  "ERROR",
	zapcore.DPanicLevel: "CRITICAL",
	zapcore.PanicLevel:  "ALERT",
	zapcore.FatalLevel:  "EMERGENCY",
}

func gcpSeverity(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	s, ok := gcpSeverities[l]
	if !ok {
		s = "DEFAULT"
	}
	enc.AppendString(s)
}

// split takes the label fields out of fields, into a copy of c's labels.
func (c *gcpCore) split(fields []zapcore.Field) (map[string]string, []zapcore.Field) {
	labels, copied := c.labels, false
	rest := make([]zapcore.Field, 0, len(fields)+1)
	for _, f := range fields {
		if !gcpLabelFields[f.Key] || f.Type != zapcore.StringType {
			rest = append(rest, f)
			continue
		}
		if !copied {
			labels, copied = make(map[string]string, len(c.labels)+1), true
			for k, v := range c.labels {
				labels[k] = v
			}
		}
		labels[f.Key] = f.String
	}
	return labels, rest
}

func (c *gcpCore) With(fields []zapcore.Field) zapcore.Core {
	labels, rest := c.split(fields)
	return &gcpCore{Core: c.Core.With(rest), labels: labels}
}

func (c *gcpCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *gcpCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	labels, rest := c.split(fields)
	if len(labels) > 0 {
		rest = append(rest, zap.Object(gcpLabelsKey, gcpLabels(labels)))
	}
	if ent.Caller.Defined {
		rest = append(rest, zap.Object(gcpSourceLocationKey, gcpSource(ent.Caller)))
	}
	return c.Core.Write(ent, rest)
}

// gcpSource is a LogEntrySourceLocation: file, line (a string, as int64 is
// in JSON) and function.
type gcpSource zapcore.EntryCaller

func (s gcpSource) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	file, _, _ := strings.Cut(zapcore.EntryCaller(s).TrimmedPath(), ":") // package dir/file.go, without :line
	enc.AddString("file", file)
	enc.AddString("line", fmt.Sprint(s.Line))
	enc.AddString("function", s.Function)
	return nil
}

type gcpLabels map[string]string

func (l gcpLabels) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, k := range slices.Sorted(maps.Keys(l)) {
		enc.AddString(k, l[k])
	}
	return nil
}

// terminal is where log lines and the live progress line meet: it clears the
// progress line before a log line and draws it again after, under one lock,
// so a log line always starts at column 0 and the progress line is never
// split. Off a terminal the progress line is not drawn at all.
type terminal struct {
	w   io.Writer
	tty bool

	mu       sync.Mutex
	progress string // the line on screen, "" when none
}

const clearLine = "\r\033[K"

func newTerminal(w io.Writer) *terminal {
	return &terminal{w: w, tty: isTerminal(w)}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// term is the terminal on g's stderr, shared by the logger and progress.
func (g *globals) term() *terminal {
	g.termOnce.Do(func() {
		if g.terminal == nil {
			g.terminal = newTerminal(g.stderr)
		}
	})
	return g.terminal
}

// Write writes log lines, stripped of terminal escape sequences, above the
// progress line.
func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tty {
		_, err := io.WriteString(t.w, sanitize(string(p)))
		return len(p), err
	}
	_, err := io.WriteString(t.w, clearLine+sanitize(string(p))+t.progress)
	return len(p), err
}

// Above writes line (with a newline) to w while the progress line stays
// below it.
func (t *terminal) Above(w io.Writer, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty {
		io.WriteString(t.w, clearLine) //nolint:errcheck
	}
	io.WriteString(w, sanitize(line)+"\n") //nolint:errcheck
	if t.tty {
		io.WriteString(t.w, t.progress) //nolint:errcheck
	}
}

// Progress replaces the progress line; "" removes it. Off a terminal it does
// nothing.
func (t *terminal) Progress(line string) {
	if !t.tty {
		return
	}
	line = strings.ReplaceAll(sanitize(line), "\n", " ")
	t.mu.Lock()
	defer t.mu.Unlock()
	t.progress = line
	io.WriteString(t.w, clearLine+line) //nolint:errcheck
}

// Sync implements zapcore.WriteSyncer.
func (t *terminal) Sync() error {
	if s, ok := t.w.(interface{ Sync() error }); ok {
		s.Sync() //nolint:errcheck // a terminal or pipe cannot sync
	}
	return nil
}

// sanitize strips terminal control from text that came from outside (Looker
// error messages, run errors, saved log lines) before it is printed: escape
// sequences (CSI such as colours and cursor movement, OSC such as a window
// title, DCS and the like), C1 controls, and C0 controls other than newline
// and tab, \r included. Invalid UTF-8 becomes U+FFFD. Everything else, any
// script, is kept.
func sanitize(s string) string {
	if !needsSanitize(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	rs := []rune(strings.ToValidUTF8(s, "\uFFFD"))
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == 0x1b && i+1 < len(rs):
			i++
			switch rs[i] {
			case '[':
				i = skipCSI(rs, i+1)
			case ']', 'P', 'X', '^', '_':
				i = skipString(rs, i+1)
			}
		case r == 0x9b:
			i = skipCSI(rs, i+1)
		case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f:
			i = skipString(rs, i+1)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			// a control: dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsSanitize(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) || r == 0xFFFD {
			return true
		}
	}
	return false
}

// skipCSI returns the index of the final byte of the control sequence whose
// parameters start at i.
func skipCSI(rs []rune, i int) int {
	for ; i < len(rs); i++ {
		if rs[i] >= 0x40 && rs[i] <= 0x7e {
			return i
		}
		if rs[i] < 0x20 || rs[i] > 0x7e { // not a sequence after all: dropped with it
			return i
		}
	}
	return len(rs)
}

// skipString returns the index of the end of the control string (OSC, DCS,
// ...) that starts at i: its BEL, ST, or the \ of ESC \.
func skipString(rs []rune, i int) int {
	for ; i < len(rs); i++ {
		switch {
		case rs[i] == 0x07 || rs[i] == 0x9c:
			return i
		case rs[i] == 0x1b && i+1 < len(rs) && rs[i+1] == '\\':
			return i + 1
		}
	}
	return len(rs)
}
