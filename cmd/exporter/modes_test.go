package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunFileModes: `exporter run` creates the data file, _manifest.json,
// _SUCCESS and their new directories with local.file_mode (default 0640,
// directories 0750), and the SQLite state file 0600, whatever the umask.
func TestRunFileModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, top string
		file, dir fs.FileMode
	}{
		{name: "default", file: 0o640, dir: 0o750},
		{name: "configured", top: "local: {file_mode: '0600'}\n", file: 0o600, dir: 0o700},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "  - {name: j, schedule: '@daily', source: {look_id: '42'}, format: csv, destination: '$DIR/out/{{ .Job }}/dt={{ date \"2006-01-02\" }}/x.csv'}\n"+c.top)
			code, _, stderr := exec(t, context.Background(), "run", "--config", f.conf, "j", "--at", "2026-01-02T00:00:00Z")
			require.Equal(t, 0, code, stderr)
			dir := filepath.Join(f.dir, "out", "j", "dt=2026-01-02")
			for _, p := range []string{filepath.Join(dir, "x.csv"), filepath.Join(dir, "_manifest.json"), filepath.Join(dir, "_SUCCESS")} {
				requirePerm(t, p, c.file)
			}
			for _, p := range []string{filepath.Join(f.dir, "out"), filepath.Join(f.dir, "out", "j"), dir} {
				requirePerm(t, p, c.dir)
			}
			requirePerm(t, filepath.Join(f.dir, "state.db"), 0o600)
		})
	}
}

func requirePerm(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s: got %#o, want %#o", path, fi.Mode().Perm(), want)
}
