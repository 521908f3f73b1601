package localfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lookerexport/exporter/sinks"
)

var _ sinks.Checker = (*Sink)(nil)

// Check verifies that the file uri names can be written (sinks.Checker):
// its directory, or the nearest parent that exists when the run would make
// the rest, is a directory in which the exporter's user can create and
// delete a file. It creates "_exporter_check_<random>" there and removes
// it at once.
func (s *Sink) Check(ctx context.Context, uri string) error {
	path, err := Path(uri)
	if err != nil {
		return err
	}
	if err := sinks.ContextErr(ctx); err != nil {
		return fmt.Errorf("localfs: check %s: %w", path, err)
	}
	dir, err := probeDir(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, sinks.ProbeName("*"))
	if err != nil {
		return fmt.Errorf("%s cannot be written: %w: %w", path, sinks.ErrNotWritable, fileError("create a probe file in", dir, err))
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s cannot be written: %w: %w", path, sinks.ErrNotWritable, fileError("remove the probe file", name, err))
	}
	return nil
}

// CheckScope is the directory a Check of uri probes (sinks.Checker): the
// file's directory, or its nearest parent that exists. Destinations in
// directories not made yet, below one directory, share its verdict.
func (s *Sink) CheckScope(uri string) string {
	path, err := Path(uri)
	if err != nil {
		return uri
	}
	dir, err := probeDir(path)
	if err != nil {
		return filepath.Dir(path) // Check fails there again, and a failure is never kept
	}
	return dir
}

// probeDir is where Check probes for path: its directory, or the nearest
// parent that exists when a run would make the rest.
func probeDir(path string) (string, error) {
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s is a file, not a directory, so %s cannot be written: choose another destination: %w",
					dir, path, sinks.ErrNotWritable)
			}
			return dir, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %w", sinks.ErrNotWritable, fileError("look up", dir, err))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir, nil
		}
		dir = parent
	}
}
