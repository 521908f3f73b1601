package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/sinks"
)

// Names of the files a Set writes next to the data.
const (
	ManifestName = "_manifest.json"
	SuccessName  = "_SUCCESS"
)

// RowsMetadataKey is the custom metadata key that carries a data file's
// row count, on sinks whose writers implement sinks.LateMetadata (GCS).
const RowsMetadataKey = "exporter-rows"

// cleanupTimeout bounds the removals done by Abort, which runs when the
// run's context may already be cancelled.
const cleanupTimeout = time.Minute

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options describe one run's output.
type Options struct {
	// Dest is the destination URI the job's template rendered to.
	Dest string
	// Split names the files as numbered parts of Dest (see the package
	// doc) and allows more than one; otherwise the run writes Dest alone.
	Split bool
	// Named lets the caller name each data file (Set.Name before each
	// Next), any number of them, all in Dest's directory: a dashboard's
	// tiles. Dest then names the directory (ending in "/"). Not with
	// Split.
	Named bool
	// Manifest writes _manifest.json and _SUCCESS after the data.
	Manifest bool
	// Sidecars name the files besides the data that the run may write in
	// its directory, each given by Set.Sidecar (e.g. a schema file); see
	// there.
	Sidecars []string
	// WriteOptions apply to every data file.
	WriteOptions sinks.WriteOptions
	// Bytes, when not nil, is increased by every byte written to a data
	// file, for progress reports.
	Bytes *atomic.Int64
	// Now stamps the manifest's finished_at when the caller left it zero;
	// nil means time.Now.
	Now func() time.Time
	// Log receives the clean-up's warnings; nil means none.
	Log *zap.Logger
	// Hold keeps every data file uncommitted until Commit, for a run that
	// decides whether to publish only after its last row (a send
	// condition): File.Commit finishes the file but leaves its writer
	// open; Commit withdraws an earlier run's markers, then commits the
	// files in order, then writes the markers; Abort discards them, so a
	// run that does not publish never touches the destination. Each held
	// file keeps its writer open until then (on GCS, one upload buffer,
	// gcs.Options.ChunkSize, per part).
	Hold bool
}

// Set is the output of one run. Call Begin, then Next and File.Commit for
// each data file, then Commit; defer Abort right after Begin. A Set is
// used by one goroutine.
type Set struct {
	sink     sinks.Sink
	opts     Options
	dir      string // Dest up to and including its last "/", or ""
	files    []FileInfo
	held     []held // Options.Hold: finished files not yet committed
	cur      *File
	next     named // the next file of a Named set, set by Name
	done     bool  // Commit succeeded or Abort ran
	manifest bool  // the manifest of this run may be visible
	// sidecars are the files given by Sidecar; sidecarsWritten the URIs
	// Commit has begun to write.
	sidecars        []sidecar
	sidecarsWritten []string
}

// Begin starts a run's output at opts.Dest. With the manifest on and
// IfExists overwrite (or empty), it first withdraws the markers an earlier
// run left in the directory (see the package doc); the sink must then
// implement sinks.Remover.
func Begin(ctx context.Context, sink sinks.Sink, opts Options) (*Set, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if err := checkSidecarNames(opts); err != nil {
		return nil, err
	}
	s := &Set{sink: sink, opts: opts}
	if i := strings.LastIndex(opts.Dest, "/"); i >= 0 {
		s.dir = opts.Dest[:i+1]
	}
	if !s.withdraws() {
		return s, nil
	}
	if _, ok := sink.(sinks.Remover); !ok {
		return nil, fmt.Errorf("publish %s: this destination cannot remove files, so it cannot withdraw an earlier run's %s before overwriting; set manifest: false", opts.Dest, SuccessName)
	}
	if opts.Hold {
		return s, nil // withdrawn by Commit, when the run publishes
	}
	if err := s.withdraw(ctx); err != nil {
		return nil, fmt.Errorf("%w (nothing was written)", err)
	}
	return s, nil
}

// withdraws reports whether the run removes an earlier run's markers
// before its files may overwrite that run's: with the manifest on and
// IfExists overwrite.
func (s *Set) withdraws() bool {
	p := s.opts.WriteOptions.IfExists
	return s.opts.Manifest && (p == "" || p == sinks.Overwrite)
}

// withdraw removes an earlier run's _SUCCESS, then its manifest.
func (s *Set) withdraw(ctx context.Context) error {
	rm := s.sink.(sinks.Remover) // checked by Begin
	for _, name := range append([]string{SuccessName, ManifestName}, s.opts.Sidecars...) {
		if err := rm.Remove(ctx, s.dir+name); err != nil {
			return fmt.Errorf("withdraw the earlier run's %s before overwriting: %w", name, err)
		}
	}
	return nil
}

// ManifestURI and SuccessURI are where Commit writes the markers.
func (s *Set) ManifestURI() string { return s.dir + ManifestName }

// SuccessURI is where Commit writes _SUCCESS.
func (s *Set) SuccessURI() string { return s.dir + SuccessName }

// PartURI names part n of a split destination; see the package doc.
func PartURI(dest string, n int) string {
	dir, base := "", dest
	if i := strings.LastIndex(dest, "/"); i >= 0 {
		dir, base = dest[:i+1], dest[i+1:]
	}
	stem, ext := base, ""
	if i := strings.Index(base[min(1, len(base)):], "."); i >= 0 {
		i += min(1, len(base))
		stem, ext = base[:i], base[i:]
	}
	return fmt.Sprintf("%s%s-part-%05d%s", dir, stem, n, ext)
}

// Next opens the next data file: Dest, or the next part when splitting.
// The previous file must be committed first.
func (s *Set) Next(ctx context.Context) (*File, error) {
	switch {
	case s.done:
		return nil, fmt.Errorf("publish %s: output already committed or aborted", s.opts.Dest)
	case s.cur != nil:
		return nil, fmt.Errorf("publish %s: %s is still open; commit it first", s.opts.Dest, s.cur.w.URI())
	case !s.opts.Split && !s.opts.Named && len(s.files)+len(s.held) > 0:
		return nil, fmt.Errorf("publish %s: a second file needs a split run", s.opts.Dest)
	case s.opts.Named && s.next.uri == "":
		return nil, fmt.Errorf("publish %s: name the next file first (Set.Name)", s.opts.Dest)
	}
	uri, wo := s.opts.Dest, s.opts.WriteOptions
	if s.opts.Split {
		uri = PartURI(s.opts.Dest, len(s.files)+len(s.held))
	}
	if s.opts.Named {
		uri = s.next.uri
		if s.next.contentType != "" {
			wo.ContentType = s.next.contentType
		}
		s.next = named{}
	}
	w, err := s.sink.Create(ctx, uri, wo)
	if err != nil {
		return nil, fmt.Errorf("open destination %s: %w", uri, err)
	}
	s.cur = &File{set: s, w: w, crc: crc32.New(castagnoli), sha: sha256.New()}
	return s.cur, nil
}

// File is one data file being written. Its checksums and size cover
// exactly the bytes passed to Write.
type File struct {
	set  *Set
	w    sinks.Writer
	crc  hash.Hash32
	sha  hash.Hash
	size int64
}

// Write streams p to the sink, hashing and counting it.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.crc.Write(p[:n])
	f.sha.Write(p[:n])
	f.size += int64(n)
	if f.set.opts.Bytes != nil {
		f.set.opts.Bytes.Add(int64(n))
	}
	return n, err
}

// Size is the number of bytes written so far.
func (f *File) Size() int64 { return f.size }

// URI is where the file commits.
func (f *File) URI() string { return f.w.URI() }

// held is a finished data file of a Hold set, committed by Set.Commit.
type held struct {
	w    sinks.Writer
	info FileInfo
}

// Commit closes the file, which makes it visible, and records it with its
// row count for the manifest; with Options.Hold it only finishes the file,
// which Set.Commit makes visible. After a failed Commit the file is not
// visible; Abort the Set.
func (f *File) Commit(rows int64) error {
	s := f.set
	if s.cur != f {
		return fmt.Errorf("publish %s: file %s is not open", s.opts.Dest, f.w.URI())
	}
	s.cur = nil
	if lm, ok := f.w.(sinks.LateMetadata); ok {
		lm.SetLateMetadata(map[string]string{RowsMetadataKey: strconv.FormatInt(rows, 10)})
	}
	name := f.w.URI()[strings.LastIndex(f.w.URI(), "/")+1:]
	info := FileInfo{
		URI:    f.w.URI(),
		Name:   name,
		Size:   f.size,
		Rows:   rows,
		CRC32C: hex.EncodeToString(f.crc.Sum(nil)),
		SHA256: hex.EncodeToString(f.sha.Sum(nil)),
	}
	if s.opts.Hold {
		s.held = append(s.held, held{w: f.w, info: info})
		return nil
	}
	return s.commitFile(f.w, info)
}

// commitFile closes w, which makes it visible, and records it.
func (s *Set) commitFile(w sinks.Writer, info FileInfo) error {
	if err := w.Close(); err != nil {
		_ = w.Abort()
		return fmt.Errorf("commit %s: %w", w.URI(), err)
	}
	s.files = append(s.files, info)
	return nil
}

// commitHeld makes the held files visible, in order, after withdrawing
// an earlier run's markers; the files not committed stay held, for Abort.
func (s *Set) commitHeld(ctx context.Context) error {
	if len(s.held) == 0 {
		return nil
	}
	if s.withdraws() {
		if err := s.withdraw(ctx); err != nil {
			return err
		}
	}
	for len(s.held) > 0 {
		h := s.held[0]
		s.held = s.held[1:]
		if err := s.commitFile(h.w, h.info); err != nil {
			return err
		}
	}
	return nil
}

// Files lists the committed data files, in order (with Options.Hold,
// none before Commit).
func (s *Set) Files() []FileInfo { return append([]FileInfo(nil), s.files...) }

// URIs lists the committed data files' URIs, in order.
func (s *Set) URIs() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.URI
	}
	return out
}

// Commit announces the data files: with the manifest on, it completes m
// (version, files, rows, bytes, and finished_at if zero) and writes
// _manifest.json, then _SUCCESS. m may be nil when the manifest is off.
// If it fails, Abort withdraws whatever it had written.
func (s *Set) Commit(ctx context.Context, m *Manifest) error {
	if s.done {
		return fmt.Errorf("publish %s: output already committed or aborted", s.opts.Dest)
	}
	if s.cur != nil {
		return fmt.Errorf("publish %s: %s is still open; commit it first", s.opts.Dest, s.cur.w.URI())
	}
	if len(s.files)+len(s.held) == 0 {
		return fmt.Errorf("publish %s: no data file was written", s.opts.Dest)
	}
	if err := s.commitHeld(ctx); err != nil {
		return err
	}
	if err := s.writeSidecars(ctx); err != nil {
		return err
	}
	if !s.opts.Manifest {
		s.done = true
		return nil
	}
	if m == nil {
		m = &Manifest{}
	}
	m.Version = ManifestVersion
	m.Files = s.Files()
	m.Rows, m.Bytes = 0, 0
	for _, f := range m.Files {
		m.Rows += f.Rows
		m.Bytes += f.Size
	}
	if m.FinishedAt.IsZero() {
		m.FinishedAt = s.opts.Now()
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	data = append(data, '\n')
	md := s.opts.WriteOptions.Metadata
	s.manifest = true
	if err := s.put(ctx, s.ManifestURI(), "application/json", data, md); err != nil {
		return err
	}
	if err := s.put(ctx, s.SuccessURI(), "application/octet-stream", nil, md); err != nil {
		return err
	}
	s.done = true
	return nil
}

func (s *Set) put(ctx context.Context, uri, contentType string, data []byte, md map[string]string) error {
	w, err := s.sink.Create(ctx, uri, sinks.WriteOptions{ContentType: contentType, Metadata: md, IfExists: sinks.Overwrite})
	if err != nil {
		return fmt.Errorf("write %s: %w", uri, err)
	}
	defer w.Abort() //nolint:errcheck // a no-op after a successful Close
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", uri, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", uri, err)
	}
	return nil
}

// Abort discards the output of a run that did not Commit: the open file,
// the manifest if it got written, then the committed data files,
// best-effort (see the package doc). It does nothing after a successful
// Commit, or a second time. The error lists what could not be removed.
func (s *Set) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	var errs []error
	if s.cur != nil {
		errs = append(errs, s.cur.w.Abort())
		s.cur = nil
	}
	for _, h := range s.held {
		errs = append(errs, h.w.Abort())
	}
	s.held = nil
	if !s.opts.Split && !s.opts.Named && !s.opts.Manifest {
		// A single file without a manifest is its own announcement: once
		// committed, the run's output is complete.
		return errors.Join(errs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	rm, ok := s.sink.(sinks.Remover)
	if !ok {
		if len(s.files) > 0 {
			s.opts.Log.Warn("destination cannot remove files; the committed files of the failed run stay, unannounced", zap.Strings("uris", s.URIs()))
		}
		return errors.Join(errs...)
	}
	if s.manifest {
		for _, uri := range []string{s.SuccessURI(), s.ManifestURI()} {
			if err := rm.Remove(ctx, uri); err != nil {
				// The manifest may be visible: its files must stay true to it.
				s.opts.Log.Error("withdraw the manifest of a failed run; its files are left in place so that it stays true", zap.String("uri", uri), zap.Error(err))
				return errors.Join(append(errs, fmt.Errorf("withdraw %s: %w; delete it by hand", uri, err))...)
			}
		}
	}
	for _, uri := range s.sidecarsWritten {
		if err := rm.Remove(ctx, uri); err != nil {
			errs = append(errs, fmt.Errorf("remove %s of the failed run: %w", uri, err))
		}
	}
	for _, f := range s.files {
		if err := rm.Remove(ctx, f.URI); err != nil {
			s.opts.Log.Warn("remove a file of the failed run; it stays, unannounced", zap.String("uri", f.URI), zap.Error(err))
			errs = append(errs, fmt.Errorf("remove %s of the failed run: %w", f.URI, err))
			continue
		}
		s.opts.Log.Info("removed a file of the failed run", zap.String("uri", f.URI))
	}
	return errors.Join(errs...)
}
