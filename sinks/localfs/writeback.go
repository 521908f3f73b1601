package localfs

import "os"

// writebackChunk is how many bytes of a temp file are written to the file
// before the kernel is asked to start writing them to disk (see
// writebackFile).
const writebackChunk = 8 << 20

// writebackFile is the temp file under the write buffer. Every
// writebackChunk bytes it asks the kernel to start writing the chunk just
// written back to disk, without waiting (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE on Linux; nothing elsewhere). The data then goes to
// disk while the rest of the file streams in, instead of all at once in
// Close's fsync, which would otherwise wait for the whole file: on a disk
// slower than the network, about as long again as the transfer. The fsync
// stays what makes the file durable; this only starts the work earlier.
type writebackFile struct {
	f       *os.File
	off     int64 // bytes written to f
	started int64 // bytes whose writeback has been started
	// startWriteback starts the writeback of n bytes at off; errors are
	// ignored: fsync reports what matters.
	startWriteback func(f *os.File, off, n int64)
}

func newWritebackFile(f *os.File) *writebackFile {
	return &writebackFile{f: f, startWriteback: startWriteback}
}

func (w *writebackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.started >= writebackChunk {
		w.startWriteback(w.f, w.started, w.off-w.started)
		w.started = w.off
	}
	return n, err
}
