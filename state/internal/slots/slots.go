// Package slots holds the argument rules both stores apply to the slot
// methods of state.Store, so they accept and refuse the same calls.
package slots

import (
	"errors"
	"fmt"
	"time"
)

// Check rejects what no slot method accepts: an empty key or holder, and a
// lease that is not positive (pass a positive lease for ReleaseSlot, which
// takes none).
func Check(key, holder string, lease time.Duration) error {
	switch {
	case key == "":
		return errors.New("empty slot key")
	case holder == "":
		return fmt.Errorf("slot %q: empty holder", key)
	case lease <= 0:
		return fmt.Errorf("slot %q: lease %s must be positive", key, lease)
	}
	return nil
}

// CheckMax rejects an AcquireSlot max below 1: no holder could ever get a slot.
func CheckMax(key string, max int) error {
	if max < 1 {
		return fmt.Errorf("slot %q: max %d must be at least 1", key, max)
	}
	return nil
}
