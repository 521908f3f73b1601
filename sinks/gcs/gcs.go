package gcs

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"go.uber.org/zap"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lookerexport/exporter/sinks"
)

// DefaultChunkSize is the upload chunk size when Options.ChunkSize is 0.
const DefaultChunkSize = 16 << 20

// cleanupTimeout bounds the delete of an object that failed its checksum.
const cleanupTimeout = 30 * time.Second

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune the uploads of a Sink.
type Options struct {
	// ChunkSize is the most a Writer buffers before sending a request;
	// see the package doc for the memory it costs. 0 or less means
	// DefaultChunkSize. The client rounds it up to a multiple of 256 KiB.
	ChunkSize int
	// ChunkRetryDeadline bounds how long the client retries one chunk
	// after transient errors. 0 means the client's default (32s).
	ChunkRetryDeadline time.Duration
}

// Sink writes GCS objects through one storage client. It is safe for
// concurrent use.
type Sink struct {
	client *storage.Client
	log    *zap.Logger
	opts   Options
}

var (
	_ sinks.Sink    = (*Sink)(nil)
	_ sinks.Remover = (*Sink)(nil)
)

// New returns a GCS sink using client, which the caller keeps and closes.
func New(client *storage.Client, log *zap.Logger, opts Options) *Sink {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	return &Sink{client: client, log: log.Named("gcs"), opts: opts}
}

// ParseURI splits "gs://bucket/object" into its bucket and object name.
// The object name is taken verbatim; it must be non-empty, not end in "/"
// and have no "..", "." or empty segments, which tools that mirror a bucket
// to disk (gsutil rsync, gcsfuse) resolve outside the job's prefix.
func ParseURI(uri string) (bucket, object string, err error) {
	rest, ok := strings.CutPrefix(uri, "gs://")
	if !ok {
		return "", "", fmt.Errorf("gcs: %q is not a gs:// URI (want gs://bucket/object)", uri)
	}
	bucket, object, _ = strings.Cut(rest, "/")
	switch {
	case bucket == "":
		return "", "", fmt.Errorf("gcs: %q has no bucket (want gs://bucket/object)", uri)
	case object == "":
		return "", "", fmt.Errorf("gcs: %q has no object name (want gs://bucket/object)", uri)
	case strings.HasSuffix(object, "/"):
		return "", "", fmt.Errorf("gcs: %q ends in \"/\": name an object, not a folder", uri)
	}
	for seg := range strings.SplitSeq(object, "/") {
		switch seg {
		case "..", ".":
			return "", "", fmt.Errorf("gcs: %q has a %q segment, which would leave its folder when the bucket is copied to disk: remove it from the destination", uri, seg)
		case "":
			return "", "", fmt.Errorf("gcs: %q has an empty segment (\"//\"): remove it from the destination", uri)
		}
	}
	return bucket, object, nil
}

// Create starts an upload to uri. Nothing is sent until the first Write
// (or Close). With IfExists fail or skip it returns an error wrapping
// sinks.ErrExists or sinks.ErrSkipped if the object already exists.
func (s *Sink) Create(ctx context.Context, uri string, opts sinks.WriteOptions) (sinks.Writer, error) {
	bucket, name, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if err := sinks.ContextErr(ctx); err != nil {
		return nil, fmt.Errorf("gcs: create %s: %w", uri, err)
	}
	policy, err := opts.IfExists.Policy()
	if err != nil {
		return nil, fmt.Errorf("gcs: %w", err)
	}
	log := s.log.With(zap.String("uri", uri))
	obj := s.client.Bucket(bucket).Object(name)
	if policy != sinks.Overwrite {
		_, err := obj.Attrs(ctx)
		switch {
		case err == nil:
			return nil, policy.ExistsError(uri)
		case errors.Is(err, storage.ErrObjectNotExist):
		case ctx.Err() != nil:
			return nil, fmt.Errorf("gcs: look up %s: %w", uri, sinks.ContextErr(ctx))
		default:
			// Only an optimisation: the upload's precondition decides.
			log.Debug("look up existing object; relying on the upload precondition", zap.Error(err))
		}
		obj = obj.If(storage.Conditions{DoesNotExist: true})
	}
	upCtx, cancel := context.WithCancel(ctx)
	return &writer{
		ctx:    ctx,
		cancel: cancel,
		upCtx:  upCtx,
		up:     obj,
		opts:   opts,
		sink:   s.opts,
		obj:    s.client.Bucket(bucket).Object(name),
		uri:    uri,
		bucket: bucket,
		policy: policy,
		log:    log,
	}, nil
}

// smallObject is the most a writer holds itself before it starts the
// client's upload. An object no larger (a manifest, a _SUCCESS marker, a
// small result) is uploaded at Close with the client's smallest chunk,
// googleapi.MinUploadChunkSize, which the client allocates and retries
// from: 256 KiB of buffer instead of Options.ChunkSize (16 MiB by
// default), which a burst of small runs allocated three times a run.
const smallObject = googleapi.MinUploadChunkSize

// flushPending starts the client's upload, with a buffer of chunk bytes,
// and hands it what the writer held.
func (w *writer) flushPending(chunk int) error {
	w.sw = w.up.NewWriter(w.upCtx)
	w.sw.ChunkSize = chunk
	w.sw.ChunkRetryDeadline = w.sink.ChunkRetryDeadline
	w.sw.ContentType = w.opts.ContentType
	w.sw.ContentEncoding = w.opts.ContentEncoding
	w.sw.Metadata = maps.Clone(w.opts.Metadata)
	pending := w.pending
	w.pending = nil
	if len(pending) == 0 {
		return nil
	}
	_, err := w.sw.Write(pending)
	return err
}

// Remove deletes the object at uri (its live generation). An object that
// does not exist is not an error. It implements sinks.Remover.
func (s *Sink) Remove(ctx context.Context, uri string) error {
	bucket, name, err := ParseURI(uri)
	if err != nil {
		return err
	}
	err = s.client.Bucket(bucket).Object(name).Delete(ctx)
	if err == nil || errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	if cerr := sinks.ContextErr(ctx); cerr != nil {
		return fmt.Errorf("gcs: delete %s: %w", uri, cerr)
	}
	wrapped := fmt.Errorf("gcs: delete %s: %w%s", uri, err, hint(err, bucket, sinks.Overwrite))
	if retryable(err) {
		return &sinks.RetryableError{Err: wrapped}
	}
	return wrapped
}

// writer is one upload. It is used by one goroutine.
type writer struct {
	// ctx is the context given to Create. io.Writer has no context, so the
	// writer keeps it to refuse writes and the commit once it is
	// cancelled; the upload itself runs under a child of it that cancel
	// ends.
	ctx    context.Context
	cancel context.CancelFunc
	upCtx  context.Context       // the upload's: ctx's child that cancel ends
	up     *storage.ObjectHandle // with the upload's preconditions
	opts   sinks.WriteOptions
	sink   Options
	obj    *storage.ObjectHandle // without preconditions, for the cleanup delete
	// pending is what was written while the object is no larger than
	// smallObject; sw is the client's upload, started (by flushPending)
	// only once it is larger, or at Close.
	pending []byte
	sw      *storage.Writer
	uri     string
	bucket  string
	policy  sinks.IfExists
	crc     uint32 // CRC32C of everything written
	size    int64
	done    bool // Close or Abort ran
	log     *zap.Logger
	late    map[string]string // metadata to add after the commit
}

var _ sinks.LateMetadata = (*writer)(nil)

// SetLateMetadata adds md to the object's custom metadata. An object no
// larger than smallObject is uploaded at Close in one request, which
// carries it. A larger one's upload started before the row count was
// known, so these values go in a metadata update right after the commit,
// conditioned on the generation and metageneration just written: it never
// touches a newer object. If that fails, Close still succeeds (the data is
// committed) and a warning is logged.
func (w *writer) SetLateMetadata(md map[string]string) {
	if w.late == nil {
		w.late = map[string]string{}
	}
	maps.Copy(w.late, md)
}

func (w *writer) URI() string { return w.uri }

// Write hands p to the upload. The client sends a request whenever a chunk
// fills, so an upload error may surface here or only at Close.
func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("gcs: write %s: writer already closed or aborted", w.uri)
	}
	if err := sinks.ContextErr(w.ctx); err != nil {
		return 0, fmt.Errorf("gcs: write %s: %w", w.uri, err)
	}
	if w.sw == nil {
		if len(w.pending)+len(p) <= smallObject {
			w.pending = append(w.pending, p...)
			w.crc = crc32.Update(w.crc, castagnoli, p)
			w.size += int64(len(p))
			return len(p), nil
		}
		if err := w.flushPending(w.sink.ChunkSize); err != nil {
			return 0, w.writeError("upload", err)
		}
	}
	n, err := w.sw.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.size += int64(n)
	if err != nil {
		return n, w.writeError("upload", err)
	}
	return n, nil
}

// writeError is the error of op on the client's upload: the sentinel of
// the policy when the object's precondition failed (GCS may check it
// when a resumable upload starts, in a Write once the first chunk fills,
// or when it creates the object at Close), else uploadError's.
func (w *writer) writeError(op string, err error) error {
	if w.policy != sinks.Overwrite && isPreconditionFailed(err) {
		return w.policy.ExistsError(w.uri)
	}
	return w.uploadError(op, err)
}

// Close finalizes the upload, which makes the object visible, then checks
// the server's CRC32C and size against what was written. It refuses to
// commit once the context given to Create is cancelled.
func (w *writer) Close() error {
	if w.done {
		return fmt.Errorf("gcs: close %s: writer already closed or aborted", w.uri)
	}
	if err := sinks.ContextErr(w.ctx); err != nil {
		w.abort()
		return fmt.Errorf("gcs: not committing %s: %w", w.uri, err)
	}
	w.done = true
	if w.sw == nil { // no larger than smallObject: one request, now
		if len(w.late) > 0 { // which carries the late metadata too: no update after
			md := maps.Clone(w.opts.Metadata) // the caller's map stays as it was
			if md == nil {
				md = map[string]string{}
			}
			maps.Copy(md, w.late)
			w.opts.Metadata, w.late = md, nil
		}
		if err := w.flushPending(smallObject); err != nil {
			w.abort()
			return w.writeError("upload", err)
		}
	}
	err := w.sw.Close()
	w.cancel()
	if err != nil {
		return w.writeError("finish upload", err)
	}
	attrs := w.sw.Attrs()
	if err := w.verify(attrs); err != nil {
		return err
	}
	w.applyLate(attrs)
	return nil
}

// applyLate patches the metadata set with SetLateMetadata onto the
// generation just committed.
func (w *writer) applyLate(attrs *storage.ObjectAttrs) {
	if len(w.late) == 0 || attrs == nil {
		return
	}
	md := maps.Clone(attrs.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	maps.Copy(md, w.late)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
	defer cancel()
	_, err := w.obj.If(storage.Conditions{GenerationMatch: attrs.Generation, MetagenerationMatch: attrs.Metageneration}).
		Update(ctx, storage.ObjectAttrsToUpdate{Metadata: md})
	if err != nil {
		w.log.Warn("add metadata after upload; the object is committed without it", zap.Any("metadata", w.late), zap.Error(err))
	}
}

// verify compares the committed object with what was written and deletes
// it when they differ.
func (w *writer) verify(attrs *storage.ObjectAttrs) error {
	if attrs == nil {
		return nil // not reported; the client's own checksum applied
	}
	if attrs.CRC32C == w.crc && attrs.Size == w.size {
		return nil
	}
	mismatch := fmt.Errorf("gcs: upload %s: the server stored %d bytes with CRC32C %08x, but %d bytes with CRC32C %08x were written",
		w.uri, attrs.Size, attrs.CRC32C, w.size, w.crc)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
	defer cancel()
	derr := w.obj.If(storage.Conditions{GenerationMatch: attrs.Generation}).Delete(ctx)
	if derr != nil && !isPreconditionFailed(derr) && !errors.Is(derr, storage.ErrObjectNotExist) {
		return &sinks.RetryableError{Err: fmt.Errorf("%w; deleting the corrupt object (generation %d) failed too: %w; delete it by hand", mismatch, attrs.Generation, derr)}
	}
	return &sinks.RetryableError{Err: fmt.Errorf("%w; deleted the corrupt object", mismatch)}
}

// Abort cancels the upload. It does nothing after Close or Abort.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.abort()
	return nil
}

func (w *writer) abort() {
	w.done = true
	w.cancel()
	if w.sw == nil { // nothing was sent
		w.pending = nil
		return
	}
	// The client also notices the cancellation, but asynchronously. Close
	// the pipe into the upload with an error first, so that the Close
	// below, which waits for the upload goroutine to end, can never
	// finalize the object.
	//lint:ignore SA1019 deprecated in favour of cancelling, which is asynchronous
	_ = w.sw.CloseWithError(context.Canceled) //nolint:staticcheck // as above
	_ = w.sw.Close()                          // returns the cancellation
}

// uploadError wraps an error from the storage client, says what to do
// about the common ones, and marks transient ones retryable.
func (w *writer) uploadError(op string, err error) error {
	if cerr := sinks.ContextErr(w.ctx); cerr != nil {
		return fmt.Errorf("gcs: %s %s: %w", op, w.uri, cerr)
	}
	wrapped := fmt.Errorf("gcs: %s %s: %w%s", op, w.uri, err, hint(err, w.bucket, w.policy))
	if retryable(err) {
		return &sinks.RetryableError{Err: wrapped}
	}
	return wrapped
}

func hint(err error, bucket string, policy sinks.IfExists) string {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return ""
	}
	switch gerr.Code {
	case http.StatusUnauthorized:
		return " (the credentials were rejected: check the credentials file or Application Default Credentials)"
	case http.StatusForbidden:
		if policy == sinks.Overwrite {
			return fmt.Sprintf(" (the credentials lack permission: replacing objects needs storage.objects.create and storage.objects.delete on bucket %s, e.g. roles/storage.objectUser)", bucket)
		}
		return fmt.Sprintf(" (the credentials lack permission: grant storage.objects.create on bucket %s, e.g. roles/storage.objectCreator)", bucket)
	case http.StatusNotFound:
		return fmt.Sprintf(" (bucket %s does not exist or these credentials cannot see it)", bucket)
	}
	return ""
}

func isPreconditionFailed(err error) bool {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code == http.StatusPreconditionFailed
	}
	return status.Code(err) == codes.FailedPrecondition
}

// retryable reports whether an upload error is transient. The storage
// client's own ShouldRetry looks only at the outermost error, so walk the
// chain.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's decision, not ours
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		c := gerr.Code
		return c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500 && c < 600
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if storage.ShouldRetry(e) {
			return true
		}
	}
	return false
}
