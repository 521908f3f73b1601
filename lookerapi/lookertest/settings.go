package lookertest

import (
	"net/http"
	"strings"
)

// setting is GET /setting (spec op get_setting, schema Setting): the
// application time zone (timezone) and whether user-specific time zones
// are on (allow_user_timezones). With Options.SettingForbidden it answers
// 403, as Looker does for a user without the admin rights the settings
// need; the spec declares no 403 for get_setting, so this models what a
// client meets rather than the contract [inf].
func (s *Server) setting(c *call) {
	if s.opts.SettingForbidden {
		c.error(http.StatusForbidden, "Forbidden")
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"timezone": s.opts.AppTimezone, "allow_user_timezones": s.opts.UserTimezones,
		"extension_framework_enabled": false, "marketplace_enabled": false, "onboarding_enabled": false,
		"embed_enabled": false, "data_connector_default_enabled": false, "host_url": s.URL(),
		"email_domain_allowlist": []string{}, "login_notification_enabled": false, "login_notification_text": nil,
	})
}

// userName is the display name of sandbox user id.
func userName(id string) string {
	if id == "1" {
		return "API User"
	}
	return "User " + id
}

// me is GET /user (spec op me, schema User): the user the token acts as.
// The spec's User has no time zone property: Looker keeps a user's zone
// in the user attribute "timezone" (see userAttributeValues).
func (s *Server) me(c *call) {
	id := c.tok.userID
	first, last, _ := strings.Cut(userName(id), " ")
	c.writeJSON(http.StatusOK, map[string]any{
		"id": id, "display_name": userName(id), "first_name": first, "last_name": last,
		"email": "user" + id + "@example.com", "is_disabled": false, "locale": "en",
		"is_service_account": false, "presumed_looker_employee": false, "verified_looker_employee": false,
		"roles_externally_managed": false, "allow_direct_roles": true, "allow_normal_group_membership": true,
		"allow_roles_from_normal_groups": true, "is_iam_admin": false, "can_manage_api3_creds": c.tok.admin,
		"role_ids": []string{}, "group_ids": []string{}, "url": s.URL() + "/api/4.0/users/" + id,
		"can": map[string]bool{"show": true, "index": true},
	})
}

// userAttributeValues is GET /users/{user_id}/attribute_values (spec op
// user_attribute_user_values, schema UserAttributeWithValue): the sandbox
// has one user attribute, Looker's default "timezone": the user's own zone
// (SetUserTimezone), else the application time zone as the default
// (https://cloud.google.com/looker/docs/using-time-zone-settings: users
// without a zone get the Application Time Zone).
func (s *Server) userAttributeValues(c *call) {
	id := c.r.PathValue("user_id")
	if !validUser(id) {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	s.mu.Lock()
	zone, own := s.userZones[id]
	if !own {
		zone = s.opts.AppTimezone
	}
	s.mu.Unlock()
	source := "Default"
	if own {
		source = "User"
	}
	c.writeJSON(http.StatusOK, []map[string]any{{
		"name": "timezone", "label": "Timezone", "rank": 1, "value": zone, "user_id": id, "user_can_edit": true,
		"value_is_hidden": false, "user_attribute_id": "3", "source": source,
		"can": map[string]bool{"show": true},
	}})
}

// connection is GET /connections/{connection_name} (spec op connection,
// schema DBConnection): connection "warehouse", its dialect with
// supports_streaming (Options.StreamingDialect) and its query_timezone
// (Options.ConnectionTimezone); the database stores UTC (db_timezone).
func (s *Server) connection(c *call) {
	if c.r.PathValue("connection_name") != connectionName {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"name": connectionName, "dialect_name": dialectName, "host": "warehouse.internal", "port": "5432",
		"database": "thelook", "schema": "public", "db_timezone": "UTC",
		"query_timezone": nilIfEmpty(s.opts.ConnectionTimezone), "pdts_enabled": false, "has_password": true,
		"ssl": true, "verify_ssl": true, "example": false, "managed": false, "uses_oauth": false,
		"max_connections": 30, "max_queries": 75, "max_queries_per_user": s.opts.PerUserQueryLimit,
		"dialect": map[string]any{
			"name": dialectName, "label": "PostgreSQL 9.5+", "supports_streaming": s.streamingDialect(),
			"supports_cost_estimate": true, "automatically_run_sql_runner_snippets": true,
			"supports_inducer": false, "supports_multiple_databases": false, "supports_persistent_derived_tables": true,
			"has_ssl_support": true, "connection_tests": []string{"connect", "query"},
			"persistent_table_indexes": "", "persistent_table_sortkeys": "", "persistent_table_distkey": "",
		},
		"can": map[string]bool{"show": true},
	})
}

// versions is GET /versions (spec operation versions, schema ApiVersion),
// which Looker answers without a token: the instance serves API 4.0 (and
// 3.1, deprecated). A client asks it to tell a base URL that is not
// Looker from credentials Looker refused.
func (s *Server) versions(c *call) {
	el := func(v, full, status string) map[string]any {
		return map[string]any{"version": v, "full_version": full, "status": status, "swagger_url": s.URL() + "/api/" + v + "/swagger.json"}
	}
	cur := el("4.0", "4.0.26.12", "current")
	c.writeJSON(http.StatusOK, map[string]any{
		"looker_release_version": "26.12.3", "current_version": cur,
		"supported_versions": []any{el("3.1", "3.1.0", "deprecated"), cur},
		"api_server_url":     s.URL(), "web_server_url": s.URL(),
	})
}
