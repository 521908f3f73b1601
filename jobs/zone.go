package jobs

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/zones"
)

// resultZone is the zone a run reads Looker's zone-less datetimes in:
// the zone Looker rendered them in, as the client found it out
// (Result.Timezone: the query's query_timezone, the job's, or Looker's
// resolved default), or for SQL Runner, whose values Looker never
// converts, the job's sql_timezone. nil means nobody could say: convert
// then fails a result with datetime columns instead of guessing.
//
// The run's log names the zone and where it came from, at info level
// when the run converts datetimes; a csv passed through copies them as
// Looker wrote them, so there it is a debug line.
func resultZone(log *zap.Logger, job *config.Job, res *lookerapi.Result) (*time.Location, error) {
	level := zap.InfoLevel
	if job.Plan.Passthrough {
		level = zap.DebugLevel
	}
	if job.Source.SQL != nil {
		log.Log(level, "reading SQL Runner datetimes in the job's sql_timezone (Looker does not convert them)",
			zap.String("sql_timezone", job.SQLLocation.String()))
		return job.SQLLocation, nil
	}
	if res.Timezone == "" {
		return nil, nil
	}
	loc, err := zones.Load(res.Timezone)
	if err != nil {
		return nil, fmt.Errorf("Looker rendered datetimes in time zone %q, which this machine's time zone database does not know: %w", res.Timezone, err)
	}
	log.Log(level, "reading looker datetimes in the query time zone", zap.String("query_timezone", res.Timezone), zap.String("from", res.TimezoneSource))
	return loc, nil
}
