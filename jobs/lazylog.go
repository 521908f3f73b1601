package jobs

import (
	"sync"

	"go.uber.org/zap"
)

// lazyLog is a scoped logger built on first use. zap's With copies the
// core's encoder (a buffer and the fields, encoded), which a job's loop
// and each fire would otherwise pay up front, and keep while they wait,
// though most of them never log: a thousand jobs firing at once are two
// thousand such loggers.
type lazyLog struct {
	once   sync.Once
	base   *zap.Logger
	fields []zap.Field
	log    *zap.Logger
}

func newLazyLog(base *zap.Logger, fields ...zap.Field) *lazyLog {
	return &lazyLog{base: base, fields: fields}
}

// get returns the scoped logger; safe for concurrent use.
func (l *lazyLog) get() *zap.Logger {
	l.once.Do(func() { l.log = l.base.With(l.fields...) })
	return l.log
}

// debug logs at debug level, building the logger only if that level is on.
func (l *lazyLog) debug(msg string, fields ...zap.Field) {
	if l.base.Core().Enabled(zap.DebugLevel) {
		l.get().Debug(msg, fields...)
	}
}
