package localfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fileError wraps an os error from doing op on path, adding what the user
// can do about the common causes.
func fileError(op, path string, err error) error {
	var hint string
	switch {
	case errors.Is(err, fs.ErrPermission):
		hint = fmt.Sprintf("the exporter's user (uid %d) needs write and search (x) permission on %s and search permission on its parents; fix the permissions or choose another destination",
			os.Getuid(), nearestDir(path))
	case errors.Is(err, syscall.ENOSPC):
		hint = fmt.Sprintf("the filesystem holding %s is full: free space there or choose another destination", filepath.Dir(path))
	case errors.Is(err, syscall.EDQUOT):
		hint = fmt.Sprintf("the exporter's user (uid %d) is over its disk quota on the filesystem holding %s: free space, raise the quota or choose another destination",
			os.Getuid(), filepath.Dir(path))
	case errors.Is(err, syscall.EROFS):
		hint = fmt.Sprintf("the filesystem holding %s is read-only: choose another destination", filepath.Dir(path))
	}
	if hint == "" {
		return fmt.Errorf("localfs: %s %s: %w", op, path, err)
	}
	return fmt.Errorf("localfs: %s %s: %w (%s)", op, path, err, hint)
}

// nearestDir is the directory whose permissions matter for path: path
// itself if it is a directory, else its parent.
func nearestDir(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return path
	}
	return filepath.Dir(path)
}
