package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

func TestDescribeSchedule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ spec, want string }{
		{"* * * * *", "every minute"},
		{"*/5 * * * *", "every 5 minutes"},
		{"*/15 9-17 * * 1-5", "every 15 minutes during hour 9 to 17 on weekdays (Monday to Friday)"},
		{"5 * * * *", "every hour at minute 5"},
		{"0,30 * * * *", "every hour at minutes 0 and 30"},
		{"0 */2 * * *", "every 2 hours at minute 0"},
		{"0 6 * * *", "every day at 06:00"},
		{"30 7 * * 1-5", "at 07:30 on weekdays (Monday to Friday)"},
		{"30 7 * * MON-FRI", "at 07:30 on weekdays (Monday to Friday)"},
		{"0 6,18 * * *", "every day at 06:00 and 18:00"},
		{"0 9-17 * * *", "every hour from 09:00 to 17:00"},
		{"0 0 1 * *", "at 00:00 on day 1 of the month"},
		{"0 0 1,15 * *", "at 00:00 on days 1 and 15 of the month"},
		{"0 8 * * 1", "at 08:00 on Mondays"},
		{"0 8 * * 1,3,5", "at 08:00 on Mondays, Wednesdays and Fridays"},
		{"0 0 1 1 *", "at 00:00 on day 1 of the month in January"},
		{"0 0 6 * * *", "every day at 06:00"},
		{"15 0 6 * * *", "custom schedule"},
		{"@daily", "every day at 00:00"},
		{"@hourly", "every hour at minute 0"},
		{"@every 15m", "every 15m"},
		{"0 0 */2 * *", "custom schedule"},
		{"bogus", "custom schedule"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, config.DescribeSchedule(tc.spec))
		})
	}
}
