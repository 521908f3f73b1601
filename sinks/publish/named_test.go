package publish_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/publish"
)

// TestNamedFiles: a Named set writes the files its caller names, with
// their own content types, in its directory, under one manifest; it
// refuses names outside the directory, the markers' names and a name
// used twice; and a failed run withdraws every file it had committed,
// with or without a manifest.
func TestNamedFiles(t *testing.T) {
	t.Parallel()
	for _, e := range envs(t) {
		for _, manifest := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s manifest %v", e.name, manifest), func(t *testing.T) {
				ctx := t.Context()
				o := publish.Options{Dest: e.base + "dt=1/", Named: true, Manifest: manifest,
					WriteOptions: sinks.WriteOptions{ContentType: "text/csv"}, Now: func() time.Time { return fixedNow }}
				write := func(set *publish.Set, name, ct string) {
					require.NoError(t, set.Name(o.Dest+name, ct))
					f, err := set.Next(ctx)
					require.NoError(t, err)
					_, err = io.WriteString(f, name)
					require.NoError(t, err)
					require.NoError(t, f.Commit(1))
				}

				set, err := publish.Begin(ctx, e.sink, o)
				require.NoError(t, err)
				_, err = set.Next(ctx)
				require.ErrorContains(t, err, "name the next file first")
				require.ErrorContains(t, set.Name(e.base+"other/a.csv", ""), "is not directly in the run's directory")
				require.ErrorContains(t, set.Name(o.Dest+"sub/a.csv", ""), "is not directly in the run's directory")
				require.ErrorContains(t, set.Name(o.Dest+"_SUCCESS", ""), "a data file cannot be named _SUCCESS")
				write(set, "a.csv", "")
				write(set, "b.json", "application/json")
				require.ErrorContains(t, set.Name(o.Dest+"a.csv", ""), "is already a file of this run")
				require.NoError(t, set.Commit(ctx, &publish.Manifest{Job: "j"}))
				require.Equal(t, []string{o.Dest + "a.csv", o.Dest + "b.json"}, set.URIs())
				if manifest {
					m := readManifest(t, e, o.Dest+"_manifest.json")
					require.Len(t, m.Files, 2)
					require.Equal(t, "b.json", m.Files[1].Name)
				}
				data, ok := e.read(t, o.Dest+"b.json")
				require.True(t, ok)
				require.Equal(t, "b.json", string(data))

				// A failed run publishes none of its files.
				o.Dest = e.base + "dt=2/"
				failed, err := publish.Begin(ctx, e.sink, o)
				require.NoError(t, err)
				write(failed, "a.csv", "")
				write(failed, "b.csv", "")
				require.NoError(t, failed.Abort())
				for _, uri := range e.list(t) {
					require.NotContains(t, uri, "dt=2/")
				}
			})
		}
	}
}
