//go:build !unix

package localfs

import "os"

// Without flock(2), temp files are not locked: CleanupTemp then removes
// the temp files of live writers too, so run it only before any writer
// starts.
func lockTemp(*os.File) error { return nil }

func tryLockTemp(*os.File) (bool, error) { return true, nil }
