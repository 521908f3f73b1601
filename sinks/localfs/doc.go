// Package localfs is the sinks.Sink for local files: plain paths (relative
// paths are resolved against the working directory) and file:// URIs with an
// absolute path ("file:///data/out.csv"). The path is taken verbatim: URIs
// are not percent-decoded, so "file:///data/a b#1.csv" names the file
// "a b#1.csv".
//
// # Atomicity
//
// Create makes the missing parent directories and opens a temp
// file in the target directory itself, so the final rename never crosses a
// filesystem. Temp files are hidden and recognisable:
// ".<name>.exporter-tmp-<16 hex digits>". Close flushes, fsyncs the file
// (unless it is empty, as _SUCCESS is: it has no data to make durable),
// renames (or links) it into place and fsyncs the directory, and the parents
// of any directories Create made. Abort, a failed Close, or a cancelled
// context removes the temp file.
//
// # Crashes
//
// A process killed mid-write (kill -9, a power cut) leaves its temp file
// and never a partial file under the final name (TestCrashLeavesNothingVisible
// kills a child process to show it). A Writer holds an exclusive flock(2)
// on its temp file until it is renamed, which the kernel drops when the
// process dies; CleanupTemp removes the unlocked temp files under a
// directory, so it can run at any time, even while other writers work
// there. The exporter runs it at start-up under each local job's root.
//
// Remove deletes a committed file (sinks.Remover), for sinks/publish.
//
// # Existing files
//
// IfExists=overwrite renames over the old file (readers see the old or the
// new content, never a mix). fail and skip hard-link the temp file to the
// final name, which fails if the name exists, so they hold even against a
// concurrent writer or another process; the filesystem must support hard
// links for them. Create already returns ErrExists/ErrSkipped when the file
// exists at that time; Close checks again atomically.
//
// WriteOptions.ContentType, ContentEncoding and Metadata have no meaning for
// local files and are ignored. WriteOptions.Root confines the file: a path
// whose directory resolves, through symlinks, outside the root is refused
// before anything is written.
//
// # Modes
//
// Files (temp files, so the final ones too) are created with mode 0640 and
// the directories Create makes with 0750, set explicitly so the umask does
// not matter; WithFileMode changes both (a directory gets x where the file
// mode has r, DirMode). Writes are buffered (256 KiB per Writer), and
// every 8 MiB written the kernel is asked to start writing them to disk
// (sync_file_range on Linux), so that Close's fsync does not wait for the
// whole file. No error from this package is sinks.Retryable: local
// failures (permissions, a full disk) are not cured by retrying.
package localfs
