package localfs

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
)

const (
	// tempMarker sits between the target's name and the random suffix of a
	// temp file; CleanupTemp recognises our files by it.
	tempMarker = ".exporter-tmp-"
	// randomHexLen is the length of the random suffix of a temp file.
	randomHexLen = 16
	// maxTempNameBase bounds the part of the target's name copied into the
	// temp file's name, so that a long (but legal) target name does not make
	// the temp name exceed the usual 255-byte limit.
	maxTempNameBase = 200
	bufferSize      = 256 << 10
	// DefaultFileMode is the mode of the files a Sink writes unless
	// WithFileMode says otherwise: the group may read exports, others may
	// not.
	DefaultFileMode fs.FileMode = 0o640
)

// Sink writes local files. It holds no state besides its logger and modes
// and is safe for concurrent use.
type Sink struct {
	log      *zap.Logger
	fileMode fs.FileMode // of data files, manifests and temp files
	dirMode  fs.FileMode // of the directories Create makes
}

var (
	_ sinks.Sink     = (*Sink)(nil)
	_ sinks.Remover  = (*Sink)(nil)
	_ sinks.Confiner = (*Sink)(nil)
)

// New returns a local file sink.
func New(log *zap.Logger) *Sink {
	return &Sink{log: log.Named("localfs"), fileMode: DefaultFileMode, dirMode: DirMode(DefaultFileMode)}
}

// WithFileMode returns a copy of s that gives the files it writes mode
// (permission bits only; the umask does not apply) and the directories it
// makes DirMode(mode). The owner should keep read and write: the exporter
// replaces and removes its files.
func (s *Sink) WithFileMode(mode fs.FileMode) *Sink {
	c := *s
	c.fileMode = mode.Perm()
	c.dirMode = DirMode(mode)
	return &c
}

// DirMode is the mode of a directory holding files of the given mode: the
// same bits, plus search (x) wherever read (r) is set, e.g. 0640 -> 0750.
func DirMode(file fs.FileMode) fs.FileMode {
	file = file.Perm()
	return file | (file&0o444)>>2
}

// Path returns the absolute, cleaned local path that uri names: a plain
// path (relative to the working directory) or a file:// URI with an
// absolute path. It rejects other schemes and names ending in "/".
func Path(uri string) (string, error) {
	p := uri
	switch {
	case strings.HasPrefix(uri, "file://"):
		p = strings.TrimPrefix(uri, "file://")
		if strings.HasPrefix(p, "localhost/") {
			p = p[len("localhost"):]
		}
		if !strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("localfs: %q: a file URI needs an absolute path, as in file:///data/out.csv", uri)
		}
	case strings.Contains(uri, "://"):
		return "", fmt.Errorf("localfs: %q is neither a local path nor a file:// URI", uri)
	}
	if p == "" {
		return "", errors.New("localfs: empty path")
	}
	if strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") || p == "." || p == ".." {
		return "", fmt.Errorf("localfs: %q names a directory, not a file", uri)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("localfs: resolve %q against the working directory: %w", uri, err)
	}
	return abs, nil
}

// URI returns the canonical URI of an absolute path: "file://" + path.
func URI(path string) string { return "file://" + path }

// Create starts a file at uri. It makes missing parent directories and the
// temp file right away, so permission problems show up here rather than at
// Close. With IfExists fail or skip it returns an error wrapping
// sinks.ErrExists or sinks.ErrSkipped if the file already exists.
func (s *Sink) Create(ctx context.Context, uri string, opts sinks.WriteOptions) (sinks.Writer, error) {
	path, err := Path(uri)
	if err != nil {
		return nil, err
	}
	if err := sinks.ContextErr(ctx); err != nil {
		return nil, fmt.Errorf("localfs: create %s: %w", path, err)
	}
	if err := confine(opts.Root, path); err != nil {
		return nil, err
	}
	policy, err := opts.IfExists.Policy()
	if err != nil {
		return nil, fmt.Errorf("localfs: %w", err)
	}
	if policy != sinks.Overwrite {
		// An early answer spares the caller producing data that Close
		// would discard; Close checks again, atomically.
		if _, err := os.Lstat(path); err == nil {
			return nil, policy.ExistsError(path)
		}
	}
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	newDirs, err := mkdirAll(dir, s.dirMode)
	if err != nil {
		return nil, err
	}
	f, tmp, err := createTemp(dir, name, s.fileMode)
	if err != nil {
		return nil, err
	}
	return &writer{
		ctx:     ctx,
		log:     s.log,
		path:    path,
		dir:     dir,
		tmp:     tmp,
		newDirs: newDirs,
		policy:  policy,
		f:       f,
	}, nil
}

// smallFile is how many bytes a writer holds in a buffer of their size
// before it takes a bufferSize write buffer from the pool: most files of
// a burst of small runs (a few rows, the manifest, _SUCCESS) never need
// one. The pool is emptied by every garbage collection, which a burst
// makes often: each file took a new bufferSize buffer then.
const smallFile = 16 << 10

// buffers are the writers' write buffers, reused: a daemon writing many
// files would otherwise allocate bufferSize per file and collect it soon
// after.
var buffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufferSize) }}

func newBuffer(w io.Writer) *bufio.Writer {
	bw := buffers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// releaseBuffer gives the write buffer back once nothing more is written
// (Close flushed it, or the data is discarded).
func (w *writer) releaseBuffer() {
	if w.bw != nil {
		w.bw.Reset(nil)
		buffers.Put(w.bw)
		w.bw = nil
	}
}

// Confine refuses a uri whose directory resolves, through symlinks,
// outside root, as Create does with WriteOptions.Root (sinks.Confiner).
func (s *Sink) Confine(uri, root string) error {
	path, err := Path(uri)
	if err != nil {
		return err
	}
	return confine(root, path)
}

// confine refuses a path whose directory, once symlinks are resolved, is
// not inside root (resolved too). An empty root confines nothing. Parts of
// either that do not exist yet are taken as written: the sink makes them as
// plain directories.
func confine(root, path string) error {
	if root == "" {
		return nil
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("localfs: resolve root %q: %w", root, err)
	}
	if !within(absRoot, path) {
		return fmt.Errorf("localfs: %s is outside the root %s; write below the root or change the job's root", path, root)
	}
	realRoot, err := resolve(absRoot)
	if err != nil {
		return fileError("resolve symlinks of root", absRoot, err)
	}
	dir := filepath.Dir(path)
	realDir, err := resolve(dir)
	if err != nil {
		return fileError("resolve symlinks of", dir, err)
	}
	if realDir != realRoot && !within(realRoot, realDir) {
		return fmt.Errorf("localfs: %s leaves the root %s through a symlink (its directory is really %s, the root %s); write below the root without symlinks that point outside it, or change the job's root",
			path, root, realDir, realRoot)
	}
	return nil
}

// within reports whether path is below dir (both absolute and clean).
func within(dir, path string) bool {
	return strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// resolve is filepath.EvalSymlinks of the longest existing prefix of the
// absolute path p, with the rest appended.
func resolve(p string) (string, error) {
	rest := ""
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			// p exists, so a link on the way points at nothing: where the
			// sink would write is decided by that link.
			return "", fmt.Errorf("a symlink on the way to %s points to a missing path: %w; make its target or remove the link", p, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// mkdirAll is os.MkdirAll that also reports which directories it made, so
// that Close can fsync their parents: a new file in a new directory is only
// durable once every new directory entry on the way is.
func mkdirAll(dir string, mode fs.FileMode) (created []string, err error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("localfs: %s is not a directory; choose a destination path whose parents are directories", d)
			}
			break
		}
		// ENOTDIR: an ancestor is a file; walking up finds and reports it.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, fileError("inspect directory", d, err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], mode)
		switch {
		case err == nil:
			created = append(created, missing[i])
			// The umask may have taken bits away.
			if err := os.Chmod(missing[i], mode); err != nil {
				return created, fileError("set the mode of directory", missing[i], err)
			}
		case errors.Is(err, fs.ErrExist): // made concurrently by another writer
		default:
			return created, fileError("create directory", missing[i], err)
		}
	}
	return created, nil
}

func createTemp(dir, name string, mode fs.FileMode) (*os.File, string, error) {
	base := name
	if len(base) > maxTempNameBase {
		base = base[:maxTempNameBase]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
	}
	for range 10 {
		var b [randomHexLen / 2]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
		tmp := filepath.Join(dir, "."+base+tempMarker+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", fileError("create temp file for", filepath.Join(dir, name), err)
		}
		// The umask may have taken bits away; the final file keeps this mode.
		if err := f.Chmod(mode); err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			return nil, "", fileError("set the mode of the temp file for", filepath.Join(dir, name), err)
		}
		if err := lockTemp(f); err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			return nil, "", fileError("lock temp file for", filepath.Join(dir, name), err)
		}
		// A CleanupTemp may have removed the file between its creation and
		// the lock; then start again with a new name.
		if fi, err := os.Lstat(tmp); err != nil || !sameFile(f, fi) {
			_ = f.Close()
			continue
		}
		return f, tmp, nil
	}
	return nil, "", fmt.Errorf("localfs: create temp file for %s: ten random names were taken", filepath.Join(dir, name))
}

func sameFile(f *os.File, fi fs.FileInfo) bool {
	ofi, err := f.Stat()
	return err == nil && os.SameFile(ofi, fi)
}

// isTempName reports whether a file name is one of our temp files.
func isTempName(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	i := strings.LastIndex(name, tempMarker)
	if i < 1 {
		return false
	}
	suffix := name[i+len(tempMarker):]
	if len(suffix) != randomHexLen {
		return false
	}
	for _, c := range suffix {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writer is one file being written. It is used by one goroutine.
type writer struct {
	// ctx is the context given to Create. io.Writer has no context, so the
	// writer keeps it to refuse writes and the commit once it is cancelled.
	ctx     context.Context
	log     *zap.Logger
	path    string   // final path
	dir     string   // its directory
	tmp     string   // temp file in dir
	newDirs []string // directories Create made, outermost first
	policy  sinks.IfExists
	f       *os.File      // holds the temp file's lock; nil once closed
	small   []byte        // the first bytes, up to smallFile, until bw is taken
	bw      *bufio.Writer // the write buffer, once more than smallFile bytes came
	err     error         // first write error; the writer is then unusable
	done    bool          // Close or Abort ran
}

func (w *writer) URI() string { return URI(w.path) }

// Write buffers p for the temp file. It fails once the context given to
// Create is cancelled.
func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("localfs: write %s: writer already closed or aborted", w.path)
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := sinks.ContextErr(w.ctx); err != nil {
		return 0, fmt.Errorf("localfs: write %s: %w", w.path, err)
	}
	if w.bw == nil {
		if len(w.small)+len(p) <= smallFile {
			w.small = append(w.small, p...)
			return len(p), nil
		}
		w.bw = newBuffer(newWritebackFile(w.f))
		_, _ = w.bw.Write(w.small) // into the empty buffer, which is larger: no I/O, no error
		w.small = nil
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = fileError("write temp file for", w.path, err)
		return n, w.err
	}
	return n, nil
}

// Close commits: flush, fsync, (re)check the context, then rename (or link,
// for fail/skip) the temp file into place and fsync the directories. If
// anything before the rename fails, the temp file is removed and nothing
// is visible. Once the file is in place Close returns nil: a failure to
// fsync the directory afterwards is logged, because the file is already
// visible and a failed Close must mean nothing is.
func (w *writer) Close() error {
	if w.done {
		return fmt.Errorf("localfs: close %s: writer already closed or aborted", w.path)
	}
	w.done = true
	err := w.closeTemp()
	w.releaseBuffer()
	if err != nil {
		return w.discard(err)
	}
	// fsync of a large file can take long; honour a cancellation that
	// arrived meanwhile.
	if err := sinks.ContextErr(w.ctx); err != nil {
		return w.discard(fmt.Errorf("localfs: not committing %s: %w", w.path, err))
	}
	if err := w.commit(); err != nil {
		return err
	}
	// Closed only now: the open file holds the lock that keeps
	// CleanupTemp away from the temp file until it has its final name.
	f := w.f
	w.f = nil
	if err := f.Close(); err != nil {
		w.log.Warn("close committed file", zap.String("path", w.path), zap.Error(err)) // fsynced already; nothing is lost
	}
	w.syncDirs()
	return nil
}

// writeSmall writes the bytes held without a write buffer, if any.
func (w *writer) writeSmall() (int, error) {
	if len(w.small) == 0 {
		return 0, nil
	}
	return w.f.Write(w.small)
}

// closeTemp flushes and fsyncs the temp file, which stays open.
func (w *writer) closeTemp() error {
	if w.err != nil {
		return w.err
	}
	if err := sinks.ContextErr(w.ctx); err != nil {
		return fmt.Errorf("localfs: not committing %s: %w", w.path, err)
	}
	if w.bw == nil {
		if _, err := w.writeSmall(); err != nil {
			return fileError("write temp file for", w.path, err)
		}
	} else if err := w.bw.Flush(); err != nil {
		return fileError("write temp file for", w.path, err)
	}
	// An empty file has no data to make durable, and whether it exists
	// after a crash is its directory's fsync's to decide (syncDirs): so
	// _SUCCESS, and any empty file, costs no fsync of its own, each of
	// which waits for a journal commit.
	if w.bw == nil && len(w.small) == 0 { // nothing was written
		return nil
	}
	if err := fsyncFile(w.f); err != nil {
		return fileError("fsync temp file for", w.path, err)
	}
	return nil
}

// fsyncFile is (*os.File).Sync; tests count its calls.
var fsyncFile = (*os.File).Sync

func (w *writer) commit() error {
	if w.policy == sinks.Overwrite {
		if err := os.Rename(w.tmp, w.path); err != nil {
			return w.discard(fileError("rename temp file to", w.path, err))
		}
		return nil
	}
	// link(2) fails with EEXIST if the name exists, atomically, even
	// against another process; rename(2) would silently replace it.
	if err := os.Link(w.tmp, w.path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return w.discard(w.policy.ExistsError(w.path))
		}
		return w.discard(fmt.Errorf("localfs: link temp file to %s: %w; if_exists %s needs a filesystem with hard links: use if_exists: overwrite or another destination",
			w.path, err, w.policy))
	}
	if err := os.Remove(w.tmp); err != nil {
		// The file is committed; the stray temp name is harmless and
		// CleanupTemp removes it.
		w.log.Warn("remove temp file after commit", zap.String("path", w.path), zap.String("temp_path", w.tmp), zap.Error(err))
	}
	return nil
}

// syncDirs fsyncs the target directory and the parents of the directories
// Create made, so that the new entries survive a crash.
func (w *writer) syncDirs() {
	dirs := []string{w.dir}
	for _, d := range w.newDirs {
		dirs = append(dirs, filepath.Dir(d))
	}
	seen := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := syncDir(d); err != nil {
			w.log.Warn("fsync directory after commit; the file is visible but may not survive a crash",
				zap.String("path", w.path), zap.String("dir", d), zap.Error(err))
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort removes the temp file. It does nothing after Close or Abort.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.discard(nil)
}

// discard closes and removes the temp file and returns cause, joined with
// any failure to remove the temp file.
func (w *writer) discard(cause error) error {
	w.releaseBuffer()
	if w.f != nil {
		_ = w.f.Close() // the data is being thrown away
		w.f = nil
	}
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		rerr := fmt.Errorf("localfs: remove temp file %s: %w; CleanupTemp removes it later", w.tmp, err)
		return errors.Join(cause, rerr)
	}
	return cause
}

// Remove deletes the file at uri and fsyncs its directory. A file that
// does not exist is not an error. It implements sinks.Remover.
func (s *Sink) Remove(ctx context.Context, uri string) error {
	path, err := Path(uri)
	if err != nil {
		return err
	}
	if err := sinks.ContextErr(ctx); err != nil {
		return fmt.Errorf("localfs: remove %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fileError("remove", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		s.log.Warn("fsync directory after remove; the removal may not survive a crash", zap.String("path", path), zap.Error(err))
	}
	return nil
}
