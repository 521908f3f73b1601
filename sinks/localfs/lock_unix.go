//go:build unix

package localfs

import (
	"errors"
	"os"
	"syscall"
)

// lockTemp takes an exclusive flock(2) on a temp file for as long as f
// stays open. The kernel drops it when the process dies, however it dies,
// which is what lets CleanupTemp tell a crashed writer's leftovers from a
// live writer's file.
func lockTemp(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// tryLockTemp reports whether nobody holds the lock on f; if so the
// caller holds it now, until f is closed.
func tryLockTemp(f *os.File) (bool, error) {
	err := lockTemp(f)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
