// Package sinks writes export files to their destinations atomically.
//
// A Sink hands out Writers. Nothing written to a Writer is visible at its
// destination until Close returns nil; Abort, a failed Close, or cancelling
// the context given to Create discards everything. Callers write:
//
//	w, err := sink.Create(ctx, uri, opts)
//	if err != nil { return err }
//	defer w.Abort()
//	... write ...
//	return w.Close()
//
// Implementations: sinks/localfs (local paths and file:// URIs) and
// sinks/gcs (gs:// URIs). sinks/sinktest is the conformance suite every
// implementation passes.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Sink creates atomic writers for destination URIs of one scheme.
type Sink interface {
	// Create starts a new object at uri. The object becomes visible only
	// when the returned Writer's Close succeeds. Create is safe for
	// concurrent use; each Writer is used by one goroutine.
	Create(ctx context.Context, uri string, opts WriteOptions) (Writer, error)
}

// Writer is an object being written.
type Writer interface {
	io.Writer
	// Close commits the object: after it returns nil the object is
	// visible in full under its URI. After a failed Close nothing is.
	Close() error
	// Abort discards the object. It is safe to call after Close (then it
	// does nothing) and more than once.
	Abort() error
	// URI is the canonical URI of the object ("gs://b/o", "file:///p").
	URI() string
}

// IfExists says what Create/Close do when the object already exists.
type IfExists string

// Policies for an existing object.
const (
	Overwrite IfExists = "overwrite" // replace it (the default)
	Skip      IfExists = "skip"      // leave it, discard ours, Close returns ErrSkipped
	Fail      IfExists = "fail"      // leave it, discard ours, Close returns ErrExists
)

// WriteOptions are per-object settings.
type WriteOptions struct {
	ContentType     string            // e.g. "text/csv"
	ContentEncoding string            // e.g. "gzip"; empty for none
	Metadata        map[string]string // custom metadata (GCS object metadata)
	IfExists        IfExists          // empty means Overwrite
	// Root, for local sinks, is a directory the file must stay inside
	// once symlinks are resolved: a destination that leaves it through a
	// symlink is refused before anything is written. Empty: no
	// confinement. Object stores ignore it.
	Root string
}

// Sentinel errors.
var (
	ErrExists  = errors.New("destination object already exists")
	ErrSkipped = errors.New("destination object already exists; skipped")
)

// Retryable reports whether err, as returned by Create, Write or Close, is a
// transient failure that a new attempt of the whole write may cure: a GCS
// 408/429/5xx, a timeout, a reset connection. It is false for nil, for
// ErrExists and ErrSkipped, for context cancellation, and for failures a
// retry cannot fix (permission denied, missing bucket, disk full). A retry
// must start a new Writer with a fresh stream: a Writer that failed is done.
//
// Implementations mark transient errors by wrapping them in a
// *RetryableError; callers use Retryable.
func Retryable(err error) bool {
	var re *RetryableError
	return errors.As(err, &re)
}

// RetryableError marks Err as transient; see Retryable.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Remover is implemented by sinks that can delete committed objects:
// package sinks/publish uses it to withdraw the success marker of an
// earlier run before overwriting its files, and to delete the files of a
// run that failed half way. Removing an object that does not exist is not
// an error. Both localfs.Sink and gcs.Sink implement it.
type Remover interface {
	Remove(ctx context.Context, uri string) error
}

// Checker is implemented by sinks that can tell, before a run does any
// work, whether a destination can be written: `exporter check` asks it of
// every job's destination and jobs.Runner asks it before the Looker query
// starts, so a missing bucket or a read-only directory fails a run in
// milliseconds rather than after the whole query ran. uri names an object
// the job would write; Check verifies its container (bucket, directory)
// exists, or for a directory can be made, and that the credentials may
// create and delete objects there. A failure wraps ErrNotWritable (and is
// a *RetryableError when a later attempt may succeed, e.g. GCS 503).
// Both localfs.Sink and gcs.Sink implement it.
//
// CheckScope names what a Check of uri verifies (a directory, a bucket):
// URIs with the same scope get the same verdict, so a caller may keep a
// passed check for the scope a while instead of asking again for each URI
// in it.
type Checker interface {
	Check(ctx context.Context, uri string) error
	CheckScope(uri string) string
}

// Confiner is implemented by sinks whose files can leave a root directory
// (WriteOptions.Root) through symlinks: jobs.Runner asks it before the
// Looker query starts, so such a destination fails at once; Create checks
// again before writing. localfs.Sink implements it.
type Confiner interface {
	Confine(uri, root string) error
}

// ErrNotWritable is wrapped by a Checker's verdict that a destination
// cannot be written.
var ErrNotWritable = errors.New("the destination cannot be written")

// ProbeName is the name of the small object a Checker may create and
// delete to learn whether it may write next to uri's object:
// "_exporter_check_" and a random suffix.
func ProbeName(random string) string { return "_exporter_check_" + random }

// LateMetadata is implemented by Writers that can attach metadata only
// known once all data is written, such as the row count. Call SetMetadata
// before Close; the values are applied after the commit, best-effort: a
// failure to apply them is logged and never fails Close (which would claim
// that nothing is visible). gcs writers implement it; local files have no
// metadata and do not.
type LateMetadata interface {
	SetLateMetadata(md map[string]string)
}

// Policy returns the IfExists policy p stands for: empty means Overwrite;
// an unknown value is an error.
func (p IfExists) Policy() (IfExists, error) {
	switch p {
	case "", Overwrite:
		return Overwrite, nil
	case Fail, Skip:
		return p, nil
	}
	return "", fmt.Errorf("unknown if_exists policy %q (want overwrite, skip or fail)", string(p))
}

// ExistsError is the error a sink returns when the object at name already
// exists under policy Skip (wrapping ErrSkipped) or Fail (ErrExists).
func (p IfExists) ExistsError(name string) error {
	if p == Skip {
		return fmt.Errorf("%s: %w", name, ErrSkipped)
	}
	return fmt.Errorf("%s: %w (if_exists: fail)", name, ErrExists)
}

// ContextErr returns ctx.Err(), joined with the cancellation cause when
// one was given, so that errors.Is matches both. Sinks return it when a
// writer's context ends before Close.
func ContextErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}
