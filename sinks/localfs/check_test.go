package localfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
)

// TestCheck: a destination whose directory does not exist yet passes when
// the nearest existing parent is writable (the run makes the rest) and
// nothing is made or left; a path through a regular file, or a directory
// the exporter's user may not write, fails cause first with
// sinks.ErrNotWritable.
func TestCheck(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := localfs.New(zaptest.NewLogger(t))

	require.NoError(t, s.Check(t.Context(), filepath.Join(root, "new", "deeper", "out.csv")))
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Empty(t, entries, "the check makes no directory and leaves no probe")

	file := filepath.Join(root, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	err = s.Check(t.Context(), "file://"+filepath.Join(file, "out.csv"))
	require.ErrorIs(t, err, sinks.ErrNotWritable)
	require.True(t, strings.HasPrefix(err.Error(), file+" is a file, not a directory"), err.Error())

	if os.Getuid() == 0 {
		t.Log("running as root, which writes through permissions: the read-only directory case is not checked")
		return
	}
	ro := filepath.Join(root, "ro")
	require.NoError(t, os.Mkdir(ro, 0o500))
	err = s.Check(t.Context(), filepath.Join(ro, "out.csv"))
	require.ErrorIs(t, err, sinks.ErrNotWritable)
	require.ErrorIs(t, err, syscall.EACCES)
	require.True(t, strings.HasPrefix(err.Error(), filepath.Join(ro, "out.csv")+" cannot be written"), err.Error())
}

// TestCheckScope: the scope of a check is the directory it probes, the
// nearest that exists, so files in directories not made yet share it.
func TestCheckScope(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := localfs.New(zaptest.NewLogger(t))
	require.NoError(t, os.Mkdir(filepath.Join(root, "made"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "file"), nil, 0o644))
	for _, tc := range []struct{ uri, want string }{
		{filepath.Join(root, "out.csv"), root},
		{filepath.Join(root, "made", "out.csv"), filepath.Join(root, "made")},
		{"file://" + filepath.Join(root, "new", "deeper", "out.csv"), root},
		{filepath.Join(root, "made", "new", "out.csv"), filepath.Join(root, "made")},
		{filepath.Join(root, "file", "out.csv"), filepath.Join(root, "file")}, // Check fails there
	} {
		require.Equal(t, tc.want, s.CheckScope(tc.uri), tc.uri)
	}
}
