package slots_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/state/internal/slots"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, holder string
		lease             time.Duration
		wantErr           string
	}{
		{"ok", "k", "h", time.Second, ""},
		{"empty key", "", "h", time.Second, "empty slot key"},
		{"empty holder", "k", "", time.Second, `slot "k": empty holder`},
		{"zero lease", "k", "h", 0, `slot "k": lease 0s must be positive`},
		{"negative lease", "k", "h", -time.Second, `slot "k": lease -1s must be positive`},
	}
	for _, tt := range tests {
		err := slots.Check(tt.key, tt.holder, tt.lease)
		if tt.wantErr == "" {
			require.NoError(t, err, tt.name)
			continue
		}
		require.EqualError(t, err, tt.wantErr, tt.name)
	}
	require.NoError(t, slots.CheckMax("k", 1))
	require.EqualError(t, slots.CheckMax("k", 0), `slot "k": max 0 must be at least 1`)
	require.EqualError(t, slots.CheckMax("k", -3), `slot "k": max -3 must be at least 1`)
}
