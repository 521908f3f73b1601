package localfs_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/sinks/sinktest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) (sinks.Sink, string) {
			return localfs.New(zaptest.NewLogger(t)), localfs.URI(t.TempDir())
		},
		Read: func(t *testing.T, uri string) ([]byte, bool) {
			path, err := localfs.Path(uri)
			require.NoError(t, err)
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false
			}
			require.NoError(t, err)
			return data, true
		},
		List: func(t *testing.T, base string) []string {
			return listFiles(t, strings.TrimPrefix(base, "file://"))
		},
	})
}

// listFiles returns file:// URIs of every non-directory under dir, hidden
// temp files included.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var uris []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			uris = append(uris, localfs.URI(path))
		}
		return nil
	})
	require.NoError(t, err)
	return uris
}

func setup(t *testing.T) (*localfs.Sink, string) {
	t.Helper()
	return localfs.New(zaptest.NewLogger(t)), t.TempDir()
}

func TestPath(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	require.NoError(t, err)
	cases := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "/data/out.csv", want: "/data/out.csv"},
		{in: "file:///data/out.csv", want: "/data/out.csv"},
		{in: "file://localhost/data/out.csv", want: "/data/out.csv"},
		{in: "file:///data/a b#1=ü.csv", want: "/data/a b#1=ü.csv"},
		{in: "file:///data/x/../out.csv", want: "/data/out.csv"},
		{in: "out/x.csv", want: filepath.Join(wd, "out/x.csv")},
		{in: "file://data/out.csv", wantErr: "needs an absolute path"},
		{in: "gs://bucket/out.csv", wantErr: "neither a local path nor a file:// URI"},
		{in: "/data/dir/", wantErr: "names a directory"},
		{in: "", wantErr: "empty path"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := localfs.Path(c.in)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestRelativePath(t *testing.T) {
	// t.Chdir changes the process's directory, so no t.Parallel.
	dir := t.TempDir()
	t.Chdir(dir)
	s := localfs.New(zaptest.NewLogger(t))
	w, err := s.Create(t.Context(), "rel/x.csv", sinks.WriteOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Abort()) }()
	want := filepath.Join(dir, "rel", "x.csv")
	require.Equal(t, "file://"+want, w.URI())
	_, err = w.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.FileExists(t, want)
}

// tempFiles returns the names of our temp files directly in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".exporter-tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestTempFileInTargetDir(t *testing.T) {
	t.Parallel()
	for _, finish := range []string{"close", "abort", "cancel"} {
		t.Run(finish, func(t *testing.T) {
			t.Parallel()
			s, dir := setup(t)
			target := filepath.Join(dir, "sub", "out.csv")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := s.Create(ctx, target, sinks.WriteOptions{})
			require.NoError(t, err)
			_, err = w.Write([]byte("data"))
			require.NoError(t, err)

			tmps := tempFiles(t, filepath.Dir(target))
			require.Len(t, tmps, 1, "one temp file, in the target directory")
			require.Regexp(t, `^\.out\.csv\.exporter-tmp-[0-9a-f]{16}$`, tmps[0])

			switch finish {
			case "close":
				require.NoError(t, w.Close())
				require.FileExists(t, target)
			case "abort":
				require.NoError(t, w.Abort())
				require.NoFileExists(t, target)
			case "cancel":
				cancel()
				require.ErrorIs(t, w.Close(), context.Canceled)
				require.NoFileExists(t, target)
			}
			require.Empty(t, tempFiles(t, filepath.Dir(target)))
		})
	}
}

func TestFailOnExistingReturnsAtCreate(t *testing.T) {
	t.Parallel()
	s, dir := setup(t)
	target := filepath.Join(dir, "out.csv")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	_, err := s.Create(t.Context(), target, sinks.WriteOptions{IfExists: sinks.Fail})
	require.ErrorIs(t, err, sinks.ErrExists)
	require.ErrorContains(t, err, target)
	_, err = s.Create(t.Context(), target, sinks.WriteOptions{IfExists: sinks.Skip})
	require.ErrorIs(t, err, sinks.ErrSkipped)
	require.Empty(t, tempFiles(t, dir))
}

func TestUnknownPolicy(t *testing.T) {
	t.Parallel()
	s, dir := setup(t)
	_, err := s.Create(t.Context(), filepath.Join(dir, "x"), sinks.WriteOptions{IfExists: "replace"})
	require.ErrorContains(t, err, `unknown if_exists policy "replace"`)
}

func TestCreateCancelledContext(t *testing.T) {
	t.Parallel()
	s, dir := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Create(ctx, filepath.Join(dir, "x"), sinks.WriteOptions{})
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestOverwriteDirectoryFails(t *testing.T) {
	t.Parallel()
	s, dir := setup(t)
	target := filepath.Join(dir, "taken")
	require.NoError(t, os.Mkdir(target, 0o755))
	w, err := s.Create(t.Context(), target, sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("x"))
	require.NoError(t, err)
	err = w.Close()
	require.ErrorContains(t, err, "rename temp file to "+target)
	require.Empty(t, tempFiles(t, dir))
}

func TestParentIsAFile(t *testing.T) {
	t.Parallel()
	s, dir := setup(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	_, err := s.Create(t.Context(), filepath.Join(dir, "file", "sub", "x.csv"), sinks.WriteOptions{})
	require.ErrorContains(t, err, filepath.Join(dir, "file")+" is not a directory")
}

func TestCleanupTemp(t *testing.T) {
	t.Parallel()
	s, dir := setup(t)
	leftovers := []string{
		filepath.Join(dir, ".out.csv.exporter-tmp-0123456789abcdef"),
		filepath.Join(dir, "a", "b", ".part 1=ü.csv.exporter-tmp-fedcba9876543210"),
	}
	keep := []string{
		filepath.Join(dir, "out.csv"),
		filepath.Join(dir, ".hidden"),
		filepath.Join(dir, "a", "out.csv.exporter-tmp-0123456789abcdef"),  // not hidden
		filepath.Join(dir, "a", ".out.csv.exporter-tmp-0123"),             // short suffix
		filepath.Join(dir, "a", ".out.csv.exporter-tmp-0123456789abcdeX"), // not hex
		filepath.Join(dir, "a", "b", ".x.partial"),
	}
	for _, p := range append(append([]string{}, leftovers...), keep...) {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	}
	// A live writer's temp file is locked and survives the cleanup; the
	// crash test (TestCrashLeavesNothingVisible) covers a dead writer's.
	w, err := s.Create(t.Context(), filepath.Join(dir, "c", "live.csv"), sinks.WriteOptions{})
	require.NoError(t, err)
	_, err = w.Write([]byte("half"))
	require.NoError(t, err)
	live := tempFiles(t, filepath.Join(dir, "c"))
	require.Len(t, live, 1)
	keep = append(keep, filepath.Join(dir, "c", live[0]))

	removed, err := s.CleanupTemp(dir)
	require.NoError(t, err)
	require.ElementsMatch(t, leftovers, removed)
	for _, p := range leftovers {
		require.NoFileExists(t, p)
	}
	for _, p := range keep {
		require.FileExists(t, p)
	}
	require.NoError(t, w.Close(), "the cleanup did not disturb the live writer")
	require.FileExists(t, filepath.Join(dir, "c", "live.csv"))

	removed, err = s.CleanupTemp(filepath.Join(dir, "does-not-exist"))
	require.NoError(t, err)
	require.Empty(t, removed)
}

func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root, which ignores file permissions, so permission denied cannot be provoked; run the tests as an ordinary user to cover it")
	}
	s, dir := setup(t)
	ro := filepath.Join(dir, "readonly")
	require.NoError(t, os.Mkdir(ro, 0o555))
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })

	_, err := s.Create(t.Context(), filepath.Join(ro, "out.csv"), sinks.WriteOptions{})
	t.Logf("the error users see: %v", err)
	require.ErrorIs(t, err, fs.ErrPermission)
	require.ErrorContains(t, err, filepath.Join(ro, "out.csv"))
	require.ErrorContains(t, err, "needs write and search (x) permission on "+ro)
	require.False(t, sinks.Retryable(err))

	_, err = s.Create(t.Context(), filepath.Join(ro, "sub", "out.csv"), sinks.WriteOptions{})
	require.ErrorIs(t, err, fs.ErrPermission)
	require.ErrorContains(t, err, "create directory "+filepath.Join(ro, "sub"))
}

// A destination under Root that leaves it through a symlink is refused
// before anything is written; symlinks that stay inside, and a root that
// is itself a symlink, are fine.
func TestRootConfinesThroughSymlinks(t *testing.T) {
	t.Parallel()
	s, base := setup(t)
	outside := t.TempDir()
	realRoot := filepath.Join(base, "real-root")
	require.NoError(t, os.MkdirAll(filepath.Join(realRoot, "inside"), 0o750))
	root := filepath.Join(base, "root")
	require.NoError(t, os.Symlink(realRoot, root))
	require.NoError(t, os.Symlink(outside, filepath.Join(realRoot, "escape")))
	require.NoError(t, os.Symlink(filepath.Join(realRoot, "inside"), filepath.Join(realRoot, "alias")))
	require.NoError(t, os.Symlink("../..", filepath.Join(realRoot, "inside", "up")))
	require.NoError(t, os.Symlink("..", filepath.Join(realRoot, "inside", "back")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "missing"), filepath.Join(realRoot, "dangling")))
	opts := sinks.WriteOptions{Root: root}

	for _, p := range []string{"escape/x.csv", "escape/new/dir/x.csv", "inside/up/x.csv", "inside/up/real-root/escape/x.csv"} {
		_, err := s.Create(t.Context(), localfs.URI(filepath.Join(root, p)), opts)
		require.ErrorContains(t, err, "leaves the root "+root+" through a symlink", p)
		require.False(t, sinks.Retryable(err), p)
	}
	_, err := s.Create(t.Context(), localfs.URI(filepath.Join(root, "dangling", "x.csv")), opts)
	require.ErrorContains(t, err, "points to a missing path")
	_, err = s.Create(t.Context(), localfs.URI(root+"/../x.csv"), opts)
	require.ErrorContains(t, err, "is outside the root "+root)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written outside the root")

	for _, p := range []string{"x.csv", "alias/x.csv", "inside/back/y.csv", "new/dir/x.csv"} {
		w, err := s.Create(t.Context(), localfs.URI(filepath.Join(root, p)), opts)
		require.NoError(t, err, p)
		require.NoError(t, w.Close(), p)
	}
	// Without Root the sink follows symlinks as the operator laid them out.
	w, err := s.Create(t.Context(), localfs.URI(filepath.Join(root, "escape", "x.csv")), sinks.WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Close())
}
