package zones_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/zones"
)

func TestLoadIsLoadLocationReadOnce(t *testing.T) { //nolint:paralleltest // AllocsPerRun refuses a parallel test
	for _, name := range []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kathmandu"} {
		want, err := time.LoadLocation(name)
		require.NoError(t, err)
		got, err := zones.Load(name)
		require.NoError(t, err)
		require.Equal(t, want.String(), got.String())
		at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC) // Europe's DST change
		require.Equal(t, at.In(want).Format(time.RFC3339), at.In(got).Format(time.RFC3339), name)

		again, err := zones.Load(name)
		require.NoError(t, err)
		require.Same(t, got, again, "%s is read once", name)
		require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = zones.Load(name) }), "a loaded zone costs nothing")
	}
}

func TestLoadRefusesWhatLoadLocationRefuses(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Mars/Olympus_Mons", "../etc/passwd", "Europe/Berlin "} {
		_, want := time.LoadLocation(name)
		require.Error(t, want)
		_, err := zones.Load(name)
		require.EqualError(t, err, want.Error())
		_, err = zones.Load(name)
		require.Error(t, err, "a failed name is not cached as a zone")
	}
}

// TestZonesAreLoadedHere: the exporter's code loads zones through Load
// alone. The sandbox (lookertest) is a model of Looker and keeps its own
// loading, as do test fixtures.
func TestZonesAreLoadedHere(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "lookertest" || d.Name() == "fixture") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || d.Name() == "zones.go" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), "time.LoadLocation(") {
			found = append(found, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, found, "load zones with zones.Load, which reads each once")
}
