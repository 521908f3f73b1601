// Package runlog captures the log lines of one run, so they can be stored
// with the run and read after the fact (`exporter logs RUN_ID`, the status
// page) from any replica.
//
// A Buffer keeps the last N lines of a run; Core is a zapcore.Core that
// writes into a Buffer. The runner tees its per-run logger into a Core and
// saves Buffer.Lines with the run when it ends. Memory is bounded by N and
// by MaxLineBytes per line, however long the run.
package runlog

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"

	"github.com/lookerexport/exporter/state"
)

// DefaultLines is the number of lines kept per run when none is configured.
const DefaultLines = 200

// MaxLines bounds the configurable number of lines per run.
const MaxLines = 10000

// MaxLineBytes bounds the message and the fields of one line each; longer
// ones are cut and end in "…".
const MaxLineBytes = 8 << 10

// Buffer is a ring of the last N log lines of a run. It is safe for
// concurrent use.
type Buffer struct {
	mu      sync.Mutex
	lines   []state.LogLine // ring storage, len <= n
	next    int             // index of the oldest line once full
	n       int
	dropped int
}

// NewBuffer returns a Buffer keeping the last n lines; n <= 0 means
// DefaultLines and n is capped at MaxLines.
func NewBuffer(n int) *Buffer {
	if n <= 0 {
		n = DefaultLines
	}
	if n > MaxLines {
		n = MaxLines
	}
	return &Buffer{n: n}
}

// Add appends a line, evicting the oldest when full.
func (b *Buffer) Add(l state.LogLine) {
	l.Message = truncate(l.Message)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) < b.n {
		b.lines = append(b.lines, l)
		return
	}
	b.lines[b.next] = l
	b.next = (b.next + 1) % b.n
	b.dropped++
}

// Lines returns the kept lines, oldest first. When earlier lines were
// evicted, the first line says how many.
func (b *Buffer) Lines() []state.LogLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]state.LogLine, 0, len(b.lines)+1)
	if b.dropped > 0 {
		first := b.lines[b.next]
		out = append(out, state.LogLine{Time: first.Time, Level: "info", Message: fmt.Sprintf("(%d earlier lines not kept; the last %d follow)", b.dropped, b.n), Fields: "{}"})
	}
	out = append(out, b.lines[b.next:]...)
	out = append(out, b.lines[:b.next]...)
	return out
}

// Dropped returns how many lines were evicted.
func (b *Buffer) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

func truncate(s string) string {
	if len(s) <= MaxLineBytes {
		return s
	}
	cut := MaxLineBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Core is a zapcore.Core that records entries into a Buffer: the level, the
// message, the time, and the structured fields (those added with With and
// those of the call) as one JSON object. The time is the entry's, which
// the logger's clock sets (zap.WithClock): the package reads no clock.
type Core struct {
	zapcore.LevelEnabler
	buf *Buffer
	enc zapcore.Encoder
}

// NewCore returns a Core writing entries at or above level into buf.
func NewCore(buf *Buffer, level zapcore.LevelEnabler) *Core {
	ec := zapcore.EncoderConfig{
		// Only the fields: time, level and message have their own columns.
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		LineEnding:     "",
	}
	return &Core{LevelEnabler: level, buf: buf, enc: zapcore.NewJSONEncoder(ec)}
}

// With implements zapcore.Core.
func (c *Core) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &Core{LevelEnabler: c.LevelEnabler, buf: c.buf, enc: enc}
}

// Check implements zapcore.Core.
func (c *Core) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *Core) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	var out *buffer.Buffer
	out, err := c.enc.EncodeEntry(zapcore.Entry{}, fields)
	if err != nil {
		return err
	}
	js := out.String()
	out.Free()
	if len(js) > MaxLineBytes {
		js = fmt.Sprintf(`{"fields_truncated":%q}`, truncate(js))
	}
	c.buf.Add(state.LogLine{Time: ent.Time.UTC(), Level: ent.Level.String(), Message: ent.Message, Fields: js})
	return nil
}

// Sync implements zapcore.Core.
func (c *Core) Sync() error { return nil }

// Tee returns a zap option that copies every entry of a logger, at any
// level, into buf as well.
func Tee(buf *Buffer) zap.Option {
	return zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, NewCore(buf, zapcore.DebugLevel))
	})
}
