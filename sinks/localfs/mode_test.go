package localfs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
)

// Exported files carry the warehouse's data: by default the group may read
// them and others may not, whatever the umask; the mode is configurable,
// and a directory the sink makes gets x wherever the file mode has r.
func TestModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sink     func(t *testing.T) *localfs.Sink
		file     fs.FileMode
		dir      fs.FileMode
		tempFile fs.FileMode
	}{
		{"default", func(t *testing.T) *localfs.Sink { return localfs.New(zaptest.NewLogger(t)) }, 0o640, 0o750, 0o640},
		{"private", func(t *testing.T) *localfs.Sink {
			return localfs.New(zaptest.NewLogger(t)).WithFileMode(0o600)
		}, 0o600, 0o700, 0o600},
		{"world-readable", func(t *testing.T) *localfs.Sink {
			return localfs.New(zaptest.NewLogger(t)).WithFileMode(0o644)
		}, 0o644, 0o755, 0o644},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := c.sink(t)
			root := t.TempDir()
			path := filepath.Join(root, "a", "b", "out.csv")
			w, err := s.Create(t.Context(), localfs.URI(path), sinks.WriteOptions{})
			require.NoError(t, err)
			temps := tempFiles(t, filepath.Dir(path))
			require.Len(t, temps, 1)
			requireMode(t, filepath.Join(filepath.Dir(path), temps[0]), c.tempFile)
			_, err = w.Write([]byte("a,b\n"))
			require.NoError(t, err)
			require.NoError(t, w.Close())
			requireMode(t, path, c.file)
			requireMode(t, filepath.Join(root, "a"), c.dir)
			requireMode(t, filepath.Join(root, "a", "b"), c.dir)
		})
	}
}

func requireMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s: got %#o, want %#o", path, fi.Mode().Perm(), want)
}
