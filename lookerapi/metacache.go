package lookerapi

import (
	"sync"
	"time"
)

// MetadataTTL is how long the Client reuses what it read of Looker's
// metadata for planning runs: the application time zone (GET /setting)
// and explores' fields (labels, convert_tz). A burst of runs on the same
// explores then costs Looker one read of each instead of one per run, and
// a change (an admin changing the time zone, a LookML deploy) shows in the
// runs that start at most this long after it. Failures are never kept.
const MetadataTTL = time.Minute

// maxMetadata bounds the entries of a metaCache: past it, expired entries
// go, and then everything.
const maxMetadata = 1024

// metaCache keeps values for MetadataTTL on the Client's clock. Values
// are shared by every caller and must not be modified.
type metaCache[V any] struct {
	mu      sync.Mutex
	entries map[string]metaEntry[V]
}

type metaEntry[V any] struct {
	v       V
	expires time.Time
}

func (m *metaCache[V]) get(key string, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (m *metaCache[V]) put(key string, v V, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]metaEntry[V]{}
	}
	if len(m.entries) >= maxMetadata {
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
		if len(m.entries) >= maxMetadata {
			clear(m.entries)
		}
	}
	m.entries[key] = metaEntry[V]{v: v, expires: now.Add(MetadataTTL)}
}
