package formats

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic recovered while a result was converted: a bug, or a
// response no decoder or encoder foresaw. It fails the run instead of the
// process, so one hostile response cannot take the daemon down.
type PanicError struct {
	Value any    // what panic was called with
	Stack []byte // the goroutine's stack at the panic
}

// Recovered wraps the value of recover() with the current stack; call it in
// the deferred function that recovers.
func Recovered(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error while converting the result (a bug; please report it with the run's log): panic: %v", e.Value)
}

// safeNext is src.Next with a panic turned into a *PanicError.
func safeNext(src RowReader) (row Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			row, err = nil, Recovered(p)
		}
	}()
	return src.Next()
}

// safeWrite is dst.WriteRow with a panic turned into a *PanicError.
func safeWrite(dst RowWriter, row Row) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Recovered(p)
		}
	}()
	return dst.WriteRow(row)
}
