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
// A live Writer holds an exclusive flock(2) on its temp file until the
// file has its final name, and the kernel releases it when the process
// dies, however it dies (kill -9 included). CleanupTemp skips locked files,
// so it is safe to call at any time, even while this or another exporter
// process writes under dir (on systems without flock it is not: call it
// before any writer starts). It carries on past errors and returns them
// all joined, with the files it did remove.
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
		ok, err := removeUnlocked(path)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			s.log.Info("removed leftover temp file", zap.String("path", path))
			removed = append(removed, path)
		default:
			s.log.Debug("temp file in use by a live writer; left alone", zap.String("path", path))
		}
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

// removeUnlocked removes a temp file unless a live writer holds its lock.
func removeUnlocked(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fileError("open leftover temp file", path, err)
	}
	defer f.Close()
	free, err := tryLockTemp(f)
	if err != nil {
		return false, fileError("lock leftover temp file", path, err)
	}
	if !free {
		return false, nil
	}
	// Holding the lock: no writer can be using this file.
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fileError("remove leftover temp file", path, err)
	}
	return true, nil
}
