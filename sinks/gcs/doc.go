// Package gcs is the sinks.Sink for Google Cloud Storage: URIs of the form
// "gs://bucket/object/name". The object name is everything after the
// bucket's "/", taken verbatim (no percent-decoding), so
// "gs://b/dt=2024-01-02/a b#1.csv" names the object "dt=2024-01-02/a b#1.csv".
//
// # Streaming and memory
//
// A Writer streams through the storage client's Writer. The client buffers
// up to Options.ChunkSize bytes (default 16 MiB, rounded up to a multiple
// of 256 KiB) and sends each full buffer as one request of a resumable
// upload; an object no larger than one chunk goes in a single request at
// Close. Memory is therefore about one ChunkSize per open Writer of a
// large object: budget ChunkSize × concurrent runs. An object of at most
// 256 KiB (a manifest, a _SUCCESS marker, a small result) is held by the
// Writer until Close and then uploaded with a 256 KiB chunk, the client's
// smallest, so it never takes a ChunkSize buffer. The buffer is also what
// lets the client retry a failed chunk, so chunking is never turned off.
//
// # Atomicity
//
// GCS creates an object only when an upload is finalized, which the client
// does in Close. Abort, a failed Close, or cancelling the context given to
// Create cancels the upload before it is finalized, so nothing appears (an
// unfinished resumable upload session expires on the server by itself).
// Close checks the context before finalizing, and Abort fails the client's
// internal pipe before closing it, so neither relies on the client noticing
// the cancellation in time.
// Overwrite replaces the object in one step: readers see the old or the new
// generation, never a mix.
//
// A process killed mid-upload (kill -9) never finalizes: no object
// appears, however many chunks GCS had accepted (TestCrashLeavesNoObject
// kills a child process uploading to fake-gcs-server to show it). What it
// leaves is an unfinished resumable upload session: not an object, not
// listed, and deleted by GCS one week after it began. There is nothing to
// clean at the next start.
//
// # Metadata
//
// WriteOptions.ContentType and ContentEncoding become the object's
// Content-Type and Content-Encoding, and WriteOptions.Metadata its custom
// metadata; the client sends them when the upload starts, so they must
// be known before the first Write. Values known only at the end (the
// exporter's "exporter-rows") go through the writer's SetLateMetadata
// (sinks.LateMetadata). An object of up to 256 KiB is uploaded at Close
// in one request, which carries them. A larger one's upload started
// earlier: right after its commit, a metadata update conditioned on the
// generation and metageneration just written adds them. A reader can see
// such an object without them for that moment, and keeps seeing it
// without them if the update fails (logged, Close still succeeds); the
// run's manifest always has the rows. Remove deletes an object
// (sinks.Remover), for sinks/publish.
//
// # Existing objects
//
// IfExists fail and skip upload with the precondition ifGenerationMatch=0
// (storage.Conditions{DoesNotExist: true}); GCS evaluates it atomically
// when it creates the object, so of two racing writers exactly one wins
// (it may also refuse already when a resumable upload starts, inside a
// Write). The 412 the loser gets becomes sinks.ErrExists or
// sinks.ErrSkipped, from that Write and from Close.
// Create also looks the object up first and returns the sentinel early when
// it exists, to spare producing data that would be thrown away; if the
// credentials may not read object metadata (roles/storage.objectCreator
// alone), that early check is skipped and only the precondition decides.
// Overwriting needs storage.objects.delete as well as create
// (roles/storage.objectUser or objectAdmin).
//
// # Integrity
//
// storage v1.70 computes a CRC32C of the whole object while uploading (its
// automatic checksum, on unless Writer.DisableAutoChecksum is set, which this
// package never does) and sends it with the final request: in the object
// resource of a single-request upload, or as "X-Goog-Hash: crc32c=..." on
// the last chunk of a resumable one. GCS refuses to finalize an upload whose
// data does not match, so a corrupted upload never becomes visible. On top
// of that, the Writer computes its own CRC32C of everything written and
// compares it, and the size, with what the server reports after Close; on
// a mismatch it deletes that generation (if it is still the live one) and
// Close fails with a retryable error. Either check alone would catch
// corruption in transit; the second also covers servers and emulators that
// ignore the header.
//
// # Errors
//
// Errors name the URI and what was being done; 401/403/404 say what to
// fix. HTTP 408, 429 and 5xx, timeouts and reset connections are wrapped in
// *sinks.RetryableError; so is a checksum mismatch.
package gcs
