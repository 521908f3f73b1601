package lookertest

import (
	"fmt"
	"time"
)

// ZoneFallback is the zone Looker renders a query without query_timezone
// in when user-specific time zones are off.
//
// What https://cloud.google.com/looker/docs/using-time-zone-settings says
// (read 2026-11): Looker converts time-based data when it generates SQL
// for a Look, an Explore or a dashboard, and "queries run using SQL Runner
// do not convert time-based data"; the settings involved are the system,
// database, user-specific, application and query time zones, and the
// convert_tz LookML parameter; with "User Specific Time Zones" enabled
// "each Looker user is assigned a time zone" that determines how query
// results appear. Which of the application zone and the connection's
// Query Time Zone (DBConnection.query_timezone) an API query without
// query_timezone gets when user zones are off is not stated in what we
// could read nor in the API reference, so both are modelled.
type ZoneFallback int

const (
	// ZoneApplication renders in Options.AppTimezone (Setting.timezone).
	ZoneApplication ZoneFallback = iota
	// ZoneConnection renders in Options.ConnectionTimezone
	// (DBConnection.query_timezone), or AppTimezone when that is empty.
	ZoneConnection
)

// SetUserTimezone sets user userID's own time zone ("" clears it): the
// zone of their queries without query_timezone while Options.UserTimezones
// is on. Looker keeps it in the user attribute "timezone" (served by
// GET /users/{user_id}/attribute_values); the spec's User schema has no
// time zone property.
func (s *Server) SetUserTimezone(userID, tz string) {
	if _, err := loadZone(tz); err != nil {
		panic("lookertest: SetUserTimezone: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tz == "" {
		delete(s.userZones, userID)
		return
	}
	s.userZones[userID] = tz
}

// userZone is the zone user's queries get when user time zones are on:
// their own, else the application zone (using-time-zone-settings: users
// without a time zone get the Application Time Zone). s.mu must be held.
func (s *Server) userZone(user string) string {
	if z, ok := s.userZones[user]; ok {
		return z
	}
	return s.opts.AppTimezone
}

// queryZone is the zone Looker renders q's datetime values in when user
// runs it (NOTES §13.1; using-time-zone-settings, "Query time zone"):
// the query's query_timezone; else, with user-specific time zones on, the
// user's zone; else the ZoneFallback.
func (s *Server) queryZone(q Query, user string) (*time.Location, error) {
	name := q.QueryTimezone
	if name == "" {
		s.mu.Lock()
		switch {
		case s.opts.UserTimezones:
			name = s.userZone(user)
		case s.opts.ZoneFallback == ZoneConnection && s.opts.ConnectionTimezone != "":
			name = s.opts.ConnectionTimezone
		default:
			name = s.opts.AppTimezone
		}
		s.mu.Unlock()
	}
	return loadZone(name)
}

// loadZone loads an IANA zone; "" is UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as America/New_York", name)
	}
	return loc, nil
}
