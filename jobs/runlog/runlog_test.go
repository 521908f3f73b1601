package runlog_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/lookerexport/exporter/jobs/runlog"
	"github.com/lookerexport/exporter/state"
)

func TestCoreRecordsFieldsAndLevels(t *testing.T) {
	t.Parallel()
	buf := runlog.NewBuffer(10)
	log := zap.New(runlog.NewCore(buf, zapcore.InfoLevel)).With(zap.String("job", "orders"), zap.String("run_id", "r1"), zap.Int("attempt", 2))
	log.Debug("not kept")
	log.Info("run started", zap.Duration("timeout", time.Minute))
	log.Named("x").Error("run failed", zap.Error(fmt.Errorf("boom")))

	lines := buf.Lines()
	require.Len(t, lines, 2)
	require.Equal(t, "info", lines[0].Level)
	require.Equal(t, "run started", lines[0].Message)
	require.Equal(t, "error", lines[1].Level)
	var f map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1].Fields), &f))
	require.Equal(t, map[string]any{"job": "orders", "run_id": "r1", "attempt": float64(2), "error": "boom"}, f)
	require.NoError(t, json.Unmarshal([]byte(lines[0].Fields), &f))
	require.Equal(t, "1m0s", f["timeout"])
	require.False(t, lines[0].Time.IsZero())
}

// fixedClock is a zapcore.Clock that always reads at.
type fixedClock struct{ at time.Time }

func (c fixedClock) Now() time.Time                       { return c.at }
func (fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// TestCoreKeepsTheLoggersTime: lines carry the time of the logger's clock,
// never the wall clock, so a run's log reads the run's one clock.
func TestCoreKeepsTheLoggersTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 7, 1, 6, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	buf := runlog.NewBuffer(10)
	zap.New(runlog.NewCore(buf, zapcore.InfoLevel), zap.WithClock(fixedClock{at})).Info("run started")
	lines := buf.Lines()
	require.Len(t, lines, 1)
	require.Equal(t, at.UTC(), lines[0].Time)
}

func TestBufferKeepsTheLastN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, add   int
		wantMsgs []string
	}{
		{n: 3, add: 2, wantMsgs: []string{"m0", "m1"}},
		{n: 3, add: 3, wantMsgs: []string{"m0", "m1", "m2"}},
		{n: 3, add: 7, wantMsgs: []string{"(4 earlier lines not kept; the last 3 follow)", "m4", "m5", "m6"}},
	} {
		t.Run(fmt.Sprint(tc.n, "/", tc.add), func(t *testing.T) {
			t.Parallel()
			b := runlog.NewBuffer(tc.n)
			for i := range tc.add {
				b.Add(state.LogLine{Message: fmt.Sprintf("m%d", i), Level: "info", Fields: "{}"})
			}
			var got []string
			for _, l := range b.Lines() {
				got = append(got, l.Message)
			}
			require.Equal(t, tc.wantMsgs, got)
		})
	}
}

func TestLongLinesAreCut(t *testing.T) {
	t.Parallel()
	buf := runlog.NewBuffer(0)
	log := zap.New(runlog.NewCore(buf, zapcore.DebugLevel))
	long := strings.Repeat("é", runlog.MaxLineBytes)
	log.Info(long, zap.String("big", long))
	l := buf.Lines()[0]
	require.LessOrEqual(t, len(l.Message), runlog.MaxLineBytes+len("…"))
	require.True(t, strings.HasSuffix(l.Message, "…"))
	require.True(t, json.Valid([]byte(l.Fields)), l.Fields[:100])
	require.LessOrEqual(t, len(l.Fields), runlog.MaxLineBytes+64)
}

func TestNewBufferBounds(t *testing.T) {
	t.Parallel()
	b := runlog.NewBuffer(runlog.MaxLines * 10)
	for range runlog.MaxLines + 5 {
		b.Add(state.LogLine{})
	}
	require.Equal(t, 5, b.Dropped())
}
