package gcs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"

	"cloud.google.com/go/storage"
	"go.uber.org/zap"
	"google.golang.org/api/googleapi"

	"github.com/lookerexport/exporter/sinks"
)

var _ sinks.Checker = (*Sink)(nil)

// checkPermissions are what a run needs on the bucket: create its objects,
// and delete them (replacing an object, withdrawing _SUCCESS, cleaning up
// a failed run).
var checkPermissions = []string{"storage.objects.create", "storage.objects.delete"}

// Check verifies that the bucket of uri exists and the credentials may
// create and delete objects in it (sinks.Checker). It asks GCS
// testIamPermissions for storage.objects.create and storage.objects.delete
// on the bucket; when that call fails (an emulator that does not
// implement it, such as fake-gcs-server, or a transient error) it falls
// back to doing what a run does: it creates an empty object
// "_exporter_check_<random>" beside uri's object (under the destination's
// prefix) and deletes it. The probe object lives for the milliseconds
// between the two calls; a consumer listing the prefix at that moment can
// see it, and it never carries a _SUCCESS marker.
func (s *Sink) Check(ctx context.Context, uri string) error {
	bucket, name, err := ParseURI(uri)
	if err != nil {
		return err
	}
	b := s.client.Bucket(bucket)
	granted, err := b.IAM().TestPermissions(ctx, checkPermissions)
	if err == nil {
		var missing []string
		for _, p := range checkPermissions {
			if !slices.Contains(granted, p) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		return fmt.Errorf("the credentials lack %v on bucket %s (destination %s): grant roles/storage.objectUser on the bucket, "+
			"or storage.objects.create and storage.objects.delete: %w", missing, bucket, uri, sinks.ErrNotWritable)
	}
	if cerr := sinks.ContextErr(ctx); cerr != nil {
		return fmt.Errorf("gcs: check %s: %w", uri, cerr)
	}
	s.log.Debug("testIamPermissions failed; checking with a probe object", zap.String("bucket", bucket), zap.Error(err))
	return s.probe(ctx, b, bucket, name, uri)
}

// CheckScope is the bucket of uri, "gs://bucket/" (sinks.Checker): the
// permissions Check tests are the bucket's, and the probe it falls back to
// needs the same ones wherever it is written.
func (s *Sink) CheckScope(uri string) string {
	bucket, _, err := ParseURI(uri)
	if err != nil {
		return uri
	}
	return "gs://" + bucket + "/"
}

// probe creates and deletes a small object beside name.
func (s *Sink) probe(ctx context.Context, b *storage.BucketHandle, bucket, name, uri string) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	probe := path.Join(path.Dir(name), sinks.ProbeName(hex.EncodeToString(rnd[:])))
	if path.Dir(name) == "." {
		probe = sinks.ProbeName(hex.EncodeToString(rnd[:]))
	}
	obj := b.Object(probe)
	w := obj.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ChunkSize = smallObject // empty: the smallest buffer, not 16 MiB
	w.ContentType = "text/plain"
	w.Metadata = map[string]string{"exporter-check": "a probe of exporter check; safe to delete"}
	if err := w.Close(); err != nil {
		return checkError(ctx, "create a probe object in", bucket, uri, err)
	}
	if err := obj.Delete(ctx); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return checkError(ctx, "delete the probe object gs://"+bucket+"/"+probe+" from", bucket, uri, err)
	}
	return nil
}

// checkError says, cause first, why the destination cannot be written.
func checkError(ctx context.Context, what, bucket, uri string, err error) error {
	if cerr := sinks.ContextErr(ctx); cerr != nil {
		return fmt.Errorf("gcs: check %s: %w", uri, cerr)
	}
	var gerr *googleapi.Error
	code := 0
	if errors.As(err, &gerr) {
		code = gerr.Code
	}
	var wrapped error
	switch {
	case code == http.StatusNotFound || errors.Is(err, storage.ErrBucketNotExist):
		wrapped = fmt.Errorf("bucket %s does not exist (or these credentials cannot see it): create it, or fix the job's destination %s: %w (%w)",
			bucket, uri, sinks.ErrNotWritable, err)
	case code == http.StatusUnauthorized:
		wrapped = fmt.Errorf("GCS rejected the credentials (destination %s): check gcs.credentials_file, GOOGLE_APPLICATION_CREDENTIALS "+
			"or Application Default Credentials: %w (%w)", uri, sinks.ErrNotWritable, err)
	case code == http.StatusForbidden:
		wrapped = fmt.Errorf("the credentials may not %s bucket %s (destination %s): grant roles/storage.objectUser on the bucket, "+
			"or storage.objects.create and storage.objects.delete: %w (%w)", what, bucket, uri, sinks.ErrNotWritable, err)
	default:
		wrapped = fmt.Errorf("could not %s bucket %s (destination %s): %w (%w)", what, bucket, uri, sinks.ErrNotWritable, err)
	}
	if retryable(err) {
		return &sinks.RetryableError{Err: wrapped}
	}
	return wrapped
}
