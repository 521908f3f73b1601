package publish_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/sinks/publish"
)

// lineEncoder is a minimal restartable encoder: a header line, then one
// line per row. failAt > 0 fails that (1-based, per encoder) row.
type lineEncoder struct {
	w      io.Writer
	n      int
	failAt int
}

func (e *lineEncoder) WriteRow(row string) error {
	if e.n == 0 {
		if _, err := io.WriteString(e.w, "id\n"); err != nil {
			return err
		}
	}
	e.n++
	if e.n == e.failAt {
		return errors.New("encoder broke")
	}
	_, err := io.WriteString(e.w, row+"\n")
	return err
}

func (e *lineEncoder) Close() error {
	if e.n == 0 {
		_, err := io.WriteString(e.w, "id\n")
		return err
	}
	return nil
}

func lines(failAt int) publish.NewEncoder[string] {
	return func(w io.Writer) (publish.Encoder[string], error) {
		return &lineEncoder{w: w, failAt: failAt}, nil
	}
}

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// env is one sink with a way to read and list what it holds.
type env struct {
	name string
	sink sinks.Sink
	base string // URI prefix, ends in "/"
	read func(t *testing.T, uri string) ([]byte, bool)
	list func(t *testing.T) []string // every object or file, temp files included
	gcs  *storage.Client             // for gcsEnv
}

func localEnv(t *testing.T) env {
	dir := t.TempDir()
	return env{
		name: "localfs",
		sink: localfs.New(zaptest.NewLogger(t)),
		base: localfs.URI(dir) + "/",
		read: func(t *testing.T, uri string) ([]byte, bool) {
			p, err := localfs.Path(uri)
			require.NoError(t, err)
			data, err := os.ReadFile(p)
			if errors.Is(err, os.ErrNotExist) {
				return nil, false
			}
			require.NoError(t, err)
			return data, true
		},
		list: func(t *testing.T) []string {
			var out []string
			require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					out = append(out, localfs.URI(p))
				}
				return err
			}))
			sort.Strings(out)
			return out
		},
	}
}

func gcsEnv(t *testing.T) env {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "b"})
	client := srv.Client()
	return env{
		gcs:  client,
		name: "gcs",
		sink: gcs.New(client, zaptest.NewLogger(t), gcs.Options{}),
		base: "gs://b/orders/",
		read: func(t *testing.T, uri string) ([]byte, bool) {
			_, name, err := gcs.ParseURI(uri)
			require.NoError(t, err)
			o, err := srv.GetObject("b", name)
			if err != nil {
				return nil, false
			}
			return o.Content, true
		},
		list: func(t *testing.T) []string {
			objs, _, err := srv.ListObjectsWithOptions("b", fakestorage.ListOptions{})
			require.NoError(t, err)
			var out []string
			for _, o := range objs {
				out = append(out, "gs://b/"+o.Name)
			}
			sort.Strings(out)
			return out
		},
	}
}

func envs(t *testing.T) []env { return []env{localEnv(t), gcsEnv(t)} }

func opts(e env, split bool) publish.Options {
	return publish.Options{
		Dest: e.base + "orders.csv.gz", Split: split, Manifest: true,
		WriteOptions: sinks.WriteOptions{ContentType: "text/csv"},
		Now:          func() time.Time { return fixedNow },
	}
}

// run writes rows through a Splitter and commits, returning the first
// error.
func run(ctx context.Context, e env, o publish.Options, lim publish.Limits, newEnc publish.NewEncoder[string], rows int) (*publish.Set, error) {
	set, err := publish.Begin(ctx, e.sink, o)
	if err != nil {
		return nil, err
	}
	defer set.Abort() //nolint:errcheck // a no-op after Commit
	sp := publish.NewSplitter(ctx, set, lim, newEnc)
	for i := range rows {
		if err := sp.WriteRow(fmt.Sprint(i)); err != nil {
			return set, err
		}
	}
	if err := sp.Close(); err != nil {
		return set, err
	}
	return set, set.Commit(ctx, &publish.Manifest{Job: "orders", RunID: "r1", Format: "csv"})
}

func readManifest(t *testing.T, e env, uri string) publish.Manifest {
	t.Helper()
	data, ok := e.read(t, uri)
	require.True(t, ok, "manifest %s missing", uri)
	var m publish.Manifest
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func TestPartURI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dest string
		n    int
		want string
	}{
		{"gs://b/dt=2026-01-02/orders.csv.gz", 0, "gs://b/dt=2026-01-02/orders-part-00000.csv.gz"},
		{"/data/orders.parquet", 12, "/data/orders-part-00012.parquet"},
		{"/data/orders", 3, "/data/orders-part-00003"},
		{"orders.jsonl", 123456, "orders-part-123456.jsonl"},
		{"/data/.hidden.csv", 1, "/data/.hidden-part-00001.csv"},
		{"file:///d/ü n=1/a b.csv", 0, "file:///d/ü n=1/a b-part-00000.csv"},
	}
	for _, c := range cases {
		t.Run(c.dest, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, publish.PartURI(c.dest, c.n))
		})
	}
}

// TestSplitCommitsPartsThenManifest: 7 rows at 3 per file make three
// complete files, and the manifest's rows, sizes and checksums match the
// files as read back.
func TestSplitCommitsPartsThenManifest(t *testing.T) {
	t.Parallel()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			set, err := run(t.Context(), e, opts(e, true), publish.Limits{MaxRows: 3}, lines(0), 7)
			require.NoError(t, err)
			parts := []string{e.base + "orders-part-00000.csv.gz", e.base + "orders-part-00001.csv.gz", e.base + "orders-part-00002.csv.gz"}
			require.Equal(t, parts, set.URIs())
			require.Equal(t, append(append([]string{}, parts...), e.base+"_SUCCESS", e.base+"_manifest.json"), sortedWithMarkers(e.list(t)))

			m := readManifest(t, e, e.base+"_manifest.json")
			require.Equal(t, publish.ManifestVersion, m.Version)
			require.Equal(t, "orders", m.Job)
			require.Equal(t, int64(7), m.Rows)
			require.True(t, m.FinishedAt.Equal(fixedNow))
			require.Len(t, m.Files, 3)
			wantRows := []int64{3, 3, 1}
			wantBody := []string{"id\n0\n1\n2\n", "id\n3\n4\n5\n", "id\n6\n"}
			var total int64
			for i, f := range m.Files {
				data, ok := e.read(t, f.URI)
				require.True(t, ok)
				require.Equal(t, wantBody[i], string(data), "every part is complete, header included")
				require.Equal(t, parts[i], f.URI)
				require.Equal(t, parts[i][len(e.base):], f.Name)
				require.Equal(t, wantRows[i], f.Rows)
				require.Equal(t, int64(len(data)), f.Size)
				crc := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
				require.Equal(t, fmt.Sprintf("%08x", crc), f.CRC32C)
				sum := sha256.Sum256(data)
				require.Equal(t, hex.EncodeToString(sum[:]), f.SHA256)
				total += f.Size
			}
			require.Equal(t, total, m.Bytes)
			success, ok := e.read(t, e.base+"_SUCCESS")
			require.True(t, ok)
			require.Empty(t, success)
		})
	}
}

// sortedWithMarkers sorts so that the markers come last, in a fixed order.
func sortedWithMarkers(uris []string) []string {
	sort.SliceStable(uris, func(i, j int) bool {
		mi, mj := strings.Contains(uris[i], "/_"), strings.Contains(uris[j], "/_")
		if mi != mj {
			return !mi
		}
		return uris[i] < uris[j]
	})
	return uris
}

func TestMaxBytes(t *testing.T) {
	t.Parallel()
	e := localEnv(t)
	// Rows "0".."9" are 2 bytes each after a 3-byte header: at 7 bytes a
	// file holds the header and two rows.
	set, err := run(t.Context(), e, opts(e, true), publish.Limits{MaxBytes: 7}, lines(0), 5)
	require.NoError(t, err)
	require.Len(t, set.Files(), 3)
	for i, want := range []int64{2, 2, 1} {
		require.Equal(t, want, set.Files()[i].Rows)
	}
}

func TestNoRowsStillWritesOneCompleteFile(t *testing.T) {
	t.Parallel()
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) {
			t.Parallel()
			e := localEnv(t)
			set, err := run(t.Context(), e, opts(e, split), publish.Limits{MaxRows: 3}, lines(0), 0)
			require.NoError(t, err)
			require.Len(t, set.Files(), 1)
			data, ok := e.read(t, set.URIs()[0])
			require.True(t, ok)
			require.Equal(t, "id\n", string(data))
			require.Equal(t, int64(0), readManifest(t, e, e.base+"_manifest.json").Rows)
		})
	}
}

// TestExactMultipleMakesNoEmptyPart: 6 rows at 3 per file are two parts,
// not two and an empty third.
func TestExactMultipleMakesNoEmptyPart(t *testing.T) {
	t.Parallel()
	e := localEnv(t)
	set, err := run(t.Context(), e, opts(e, true), publish.Limits{MaxRows: 3}, lines(0), 6)
	require.NoError(t, err)
	require.Len(t, set.Files(), 2)
}

// TestFailureAnnouncesNothing: the encoder fails in the third part; the
// two committed parts are removed and no manifest or _SUCCESS appears.
func TestFailureAnnouncesNothing(t *testing.T) {
	t.Parallel()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			enc := func(w io.Writer) (publish.Encoder[string], error) {
				return &lineEncoder{w: w, failAt: 2}, nil
			}
			calls := 0
			newEnc := func(w io.Writer) (publish.Encoder[string], error) {
				calls++
				if calls == 3 {
					return enc(w)
				}
				return lines(0)(w)
			}
			_, err := run(t.Context(), e, opts(e, true), publish.Limits{MaxRows: 3}, newEnc, 9)
			require.ErrorContains(t, err, "encoder broke")
			require.Empty(t, e.list(t), "parts removed, nothing announced, no temp files")
		})
	}
}

// TestCancelMidPart: a cancelled context fails the open part; the parts
// already committed are removed all the same.
func TestCancelMidPart(t *testing.T) {
	t.Parallel()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			set, err := publish.Begin(ctx, e.sink, opts(e, true))
			require.NoError(t, err)
			sp := publish.NewSplitter(ctx, set, publish.Limits{MaxRows: 2}, lines(0))
			for i := range 5 {
				require.NoError(t, sp.WriteRow(fmt.Sprint(i)))
			}
			cancel()
			require.ErrorIs(t, sp.Close(), context.Canceled)
			require.NoError(t, set.Abort())
			require.Empty(t, e.list(t))
		})
	}
}

// failingSink fails Create for one name, to break the commit sequence.
type failingSink struct {
	sinks.Sink
	failName string
}

func (f failingSink) Create(ctx context.Context, uri string, o sinks.WriteOptions) (sinks.Writer, error) {
	if strings.HasSuffix(uri, "/"+f.failName) {
		return nil, errors.New("injected failure")
	}
	return f.Sink.Create(ctx, uri, o)
}

func (f failingSink) Remove(ctx context.Context, uri string) error {
	return f.Sink.(sinks.Remover).Remove(ctx, uri)
}

// TestMarkerFailureWithdrawsManifest: if _SUCCESS cannot be written, the
// manifest already written is withdrawn before the files are removed.
func TestMarkerFailureWithdrawsManifest(t *testing.T) {
	t.Parallel()
	for _, name := range []string{publish.ManifestName, publish.SuccessName} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := localEnv(t)
			e.sink = failingSink{Sink: e.sink, failName: name}
			_, err := run(t.Context(), e, opts(e, true), publish.Limits{MaxRows: 3}, lines(0), 5)
			require.ErrorContains(t, err, "injected failure")
			require.Empty(t, e.list(t))
		})
	}
}

// TestBeginWithdrawsEarlierMarkers: overwriting withdraws the earlier
// run's _SUCCESS and manifest before anything is written; fail and skip
// replace nothing, so they leave them.
func TestBeginWithdrawsEarlierMarkers(t *testing.T) {
	t.Parallel()
	for _, policy := range []sinks.IfExists{"", sinks.Overwrite, sinks.Fail, sinks.Skip} {
		t.Run(fmt.Sprintf("%q", policy), func(t *testing.T) {
			t.Parallel()
			e := localEnv(t)
			_, err := run(t.Context(), e, opts(e, false), publish.Limits{}, lines(0), 2)
			require.NoError(t, err)
			o := opts(e, false)
			o.WriteOptions.IfExists = policy
			set, err := publish.Begin(t.Context(), e.sink, o)
			require.NoError(t, err)
			_, successLeft := e.read(t, set.SuccessURI())
			_, manifestLeft := e.read(t, set.ManifestURI())
			keep := policy == sinks.Fail || policy == sinks.Skip
			require.Equal(t, keep, successLeft)
			require.Equal(t, keep, manifestLeft)
			require.NoError(t, set.Abort())
		})
	}
}

// TestUnsplitWithoutManifest keeps the plain behaviour: one file under the
// destination's own name, nothing else.
func TestUnsplitWithoutManifest(t *testing.T) {
	t.Parallel()
	e := localEnv(t)
	o := opts(e, false)
	o.Manifest = false
	set, err := run(t.Context(), e, o, publish.Limits{}, lines(0), 4)
	require.NoError(t, err)
	require.Equal(t, []string{e.base + "orders.csv.gz"}, set.URIs())
	require.Equal(t, []string{e.base + "orders.csv.gz"}, e.list(t))
}

// TestSecondFileNeedsSplit: an unsplit Set refuses a second file.
func TestSecondFileNeedsSplit(t *testing.T) {
	t.Parallel()
	e := localEnv(t)
	set, err := publish.Begin(t.Context(), e.sink, opts(e, false))
	require.NoError(t, err)
	defer set.Abort() //nolint:errcheck
	f, err := set.Next(t.Context())
	require.NoError(t, err)
	require.NoError(t, f.Commit(0))
	_, err = set.Next(t.Context())
	require.ErrorContains(t, err, "a second file needs a split run")
}

// TestGCSRowsMetadata: on GCS each data file carries its row count in
// custom metadata, added after the commit.
func TestGCSRowsMetadata(t *testing.T) {
	t.Parallel()
	e := gcsEnv(t)
	client := e.gcs
	o := opts(e, true)
	o.WriteOptions.Metadata = map[string]string{"exporter-job": "orders"}
	_, err := run(t.Context(), e, o, publish.Limits{MaxRows: 3}, lines(0), 5)
	require.NoError(t, err)
	for i, want := range []string{"3", "2"} {
		attrs, err := client.Bucket("b").Object(fmt.Sprintf("orders/orders-part-%05d.csv.gz", i)).Attrs(t.Context())
		require.NoError(t, err)
		require.Equal(t, want, attrs.Metadata[publish.RowsMetadataKey])
		require.Equal(t, "orders", attrs.Metadata["exporter-job"], "metadata given at Create stays")
		require.Equal(t, "text/csv", attrs.ContentType)
	}
}

// TestHoldTouchesNothingUntilCommit: a held run (a send condition decides
// after the last row) leaves an earlier run's output in the same place
// exactly as it was, files and markers, until Commit; Abort leaves it so
// for good, and Commit replaces it as an unheld run would.
func TestHoldTouchesNothingUntilCommit(t *testing.T) {
	t.Parallel()
	for _, split := range []bool{false, true} {
		for _, manifest := range []bool{true, false} {
			for _, commit := range []bool{false, true} {
				for _, e := range envs(t) {
					t.Run(fmt.Sprintf("%s/split=%t/manifest=%t/commit=%t", e.name, split, manifest, commit), func(t *testing.T) {
						t.Parallel()
						ctx := t.Context()
						o := opts(e, split)
						o.Manifest = manifest
						first, second := publish.Limits{}, publish.Limits{}
						if split {
							first, second = publish.Limits{MaxRows: 3}, publish.Limits{MaxRows: 2}
						}
						_, err := run(ctx, e, o, first, lines(0), 7)
						require.NoError(t, err)
						// Visible files and their bytes; with all true, the
						// hidden temp files of localfs writers too.
						snapshot := func(all bool) map[string]string {
							out := map[string]string{}
							for _, uri := range e.list(t) {
								if !all && strings.Contains(uri, ".exporter-tmp-") {
									continue
								}
								data, ok := e.read(t, uri)
								require.True(t, ok)
								out[uri] = string(data)
							}
							return out
						}
						before := snapshot(true)

						o.Hold = true
						set, err := publish.Begin(ctx, e.sink, o)
						require.NoError(t, err)
						defer set.Abort() //nolint:errcheck // a no-op after Commit
						sp := publish.NewSplitter(ctx, set, second, lines(0))
						for i := range 5 {
							require.NoError(t, sp.WriteRow(fmt.Sprint(100+i)))
						}
						require.NoError(t, sp.Close())
						require.Equal(t, before, snapshot(false), "nothing changes before Commit")
						require.Empty(t, set.URIs())
						if !commit {
							require.NoError(t, set.Abort())
							require.Equal(t, before, snapshot(true), "an aborted held run leaves the earlier output as it was, and no temp file")
							return
						}
						require.NoError(t, set.Commit(ctx, &publish.Manifest{Job: "orders", RunID: "r2"}))
						want := []string{e.base + "orders.csv.gz"}
						if split {
							want = []string{e.base + "orders-part-00000.csv.gz", e.base + "orders-part-00001.csv.gz", e.base + "orders-part-00002.csv.gz"}
						}
						require.Equal(t, want, set.URIs())
						body, ok := e.read(t, want[len(want)-1])
						require.True(t, ok)
						require.Equal(t, map[bool]string{false: "id\n100\n101\n102\n103\n104\n", true: "id\n104\n"}[split], string(body))
						if manifest {
							m := readManifest(t, e, set.ManifestURI())
							require.Equal(t, "r2", m.RunID)
							require.Equal(t, int64(5), m.Rows)
							require.Len(t, m.Files, len(want))
						}
					})
				}
			}
		}
	}
}

// TestHoldCommitFailureLeavesNothing: when a held file fails to commit
// (another writer took its name while the run decided, under
// if_exists: fail), the files
// committed before it are removed, the rest discarded, and no marker is
// written.
func TestHoldCommitFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	e := gcsEnv(t)
	ctx := t.Context()
	o := opts(e, true)
	o.Hold, o.Manifest, o.WriteOptions.IfExists = true, false, sinks.Fail
	set, err := publish.Begin(ctx, e.sink, o)
	require.NoError(t, err)
	sp := publish.NewSplitter(ctx, set, publish.Limits{MaxRows: 1}, lines(0))
	for i := range 3 {
		require.NoError(t, sp.WriteRow(fmt.Sprint(i)))
	}
	require.NoError(t, sp.Close())
	// Another writer takes part 1's name while the run decides.
	taken := e.base + "orders-part-00001.csv.gz"
	w, err := e.sink.Create(ctx, taken, sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = io.WriteString(w, "someone else's")
	require.NoError(t, err)
	require.NoError(t, w.Close())

	require.ErrorIs(t, set.Commit(ctx, nil), sinks.ErrExists)
	require.NoError(t, set.Abort())
	require.Equal(t, []string{taken}, e.list(t), "part 0 was committed, then removed; part 2 never was")
	data, _ := e.read(t, taken)
	require.Equal(t, "someone else's", string(data))
}

// TestSidecar: a sidecar is written next to the manifest before it, is
// withdrawn with the markers by the next overwriting run, and is removed
// when the marker after it fails.
func TestSidecar(t *testing.T) {
	t.Parallel()
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			o := opts(e, false)
			o.Sidecars = []string{"_schema.json"}
			set, err := publish.Begin(t.Context(), e.sink, o)
			require.NoError(t, err)
			require.ErrorContains(t, set.Sidecar("other.json", "application/json", nil), "not one of the run's sidecar files")
			require.NoError(t, set.Sidecar("_schema.json", "application/json", []byte(`[1]`)))
			sp := publish.NewSplitter(t.Context(), set, publish.Limits{}, lines(0))
			require.NoError(t, sp.WriteRow("1"))
			require.NoError(t, sp.Close())
			require.NoError(t, set.Commit(t.Context(), &publish.Manifest{Job: "orders"}))
			data, ok := e.read(t, e.base+"_schema.json")
			require.True(t, ok)
			require.Equal(t, `[1]`, string(data))

			next, err := publish.Begin(t.Context(), e.sink, o)
			require.NoError(t, err)
			_, left := e.read(t, e.base+"_schema.json")
			require.False(t, left, "withdrawn with the markers")
			require.NoError(t, next.Abort())
		})
	}
	e := localEnv(t)
	e.sink = failingSink{Sink: e.sink, failName: publish.SuccessName}
	o := opts(e, false)
	o.Sidecars = []string{"_schema.json"}
	set, err := publish.Begin(t.Context(), e.sink, o)
	require.NoError(t, err)
	require.NoError(t, set.Sidecar("_schema.json", "application/json", []byte(`[1]`)))
	sp := publish.NewSplitter(t.Context(), set, publish.Limits{}, lines(0))
	require.NoError(t, sp.Close())
	require.ErrorContains(t, set.Commit(t.Context(), nil), "injected failure")
	require.NoError(t, set.Abort())
	require.Empty(t, e.list(t))

	o.Sidecars = []string{publish.ManifestName}
	_, err = publish.Begin(t.Context(), e.sink, o)
	require.ErrorContains(t, err, "must be a plain name")
}
