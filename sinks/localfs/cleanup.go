package localfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// CleanupTemp removes the temp files this package leaves behind when the
// process dies mid-write (".<name>.exporter-tmp-<16 hex digits>") anywhere
// under dir, and returns their paths. Other files are never touched, and
// symbolic links are not followed. A dir that does not exist has nothing
// to clean.
//
// Call it at start-up, before any writer is open under dir: it removes the
// temp files of live writers too, including those of another exporter
// process writing to the same directory tree. It carries on past errors
// and returns them all joined, with the files it did remove.
func (s *Sink) CleanupTemp(dir string) (removed []string, err error) {
	var errs []error
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			errs = append(errs, fileError("walk", path, err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !isTempName(d.Name()) {
			return nil
		}
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fileError("remove leftover temp file", path, err))
			}
			return nil
		}
		s.log.Info("removed leftover temp file", zap.String("path", path))
		removed = append(removed, path)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("localfs: clean up temp files under %s: %w", dir, errors.Join(errs...))
	}
	return removed, nil
}
