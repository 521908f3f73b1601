package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Notification events a webhook can subscribe to.
const (
	EventFailure  = "failure"  // a job's run failed after its last run succeeded (or on its first run)
	EventRecovery = "recovery" // the first success after a failure
	EventStale    = "stale"    // the job's last success is older than its max_staleness
)

// Webhook formats.
const (
	FormatJSON  = "json"  // a JSON object with event, job, run and error fields
	FormatSlack = "slack" // {"text": "..."}: Slack, Mattermost, Google Chat, Teams workflows
)

// DefaultLogLines is how many log lines of each run are kept when
// server.log_lines is not set; MaxLogLines bounds it.
const (
	DefaultLogLines = 200
	MaxLogLines     = 10000
)

// DefaultMaxConnections is server.max_connections when unset: far more than
// browsers, probes and Prometheus need, and far below the 1024 file
// descriptors a process usually starts with, so runs keep theirs.
const DefaultMaxConnections = 256

type rawNotify struct {
	Name   string   `yaml:"name"`
	URL    Secret   `yaml:"url"`
	Format string   `yaml:"format"`
	On     []string `yaml:"on"`
}

// Notify is one alert webhook.
type Notify struct {
	Name   string   // shown in logs instead of the URL
	URL    Secret   // webhook URLs often embed a credential (Slack's do): never printed
	Format string   // FormatJSON or FormatSlack
	On     []string // events; all of them when the config lists none
}

// Wants reports whether the webhook subscribes to event.
func (n Notify) Wants(event string) bool {
	for _, e := range n.On {
		if e == event {
			return true
		}
	}
	return false
}

// IsLoopback reports whether a listen address only accepts connections
// from this machine (127.0.0.0/8, ::1 or localhost). An empty host
// ("":9464, "0.0.0.0:9464") listens on every interface and is not.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (l *loader) validateServer(raw rawServer, out *Server) {
	// The container image sets EXPORTER_LISTEN and takes the token from
	// EXPORTER_TOKEN or EXPORTER_TOKEN_FILE, as looker: takes LOOKERSDK_*:
	// keys in the file win.
	env := l.getenv
	raw.Listen = firstNonEmpty(raw.Listen, env("EXPORTER_LISTEN"))
	if raw.Token == "" && raw.TokenFile == "" {
		raw.Token = Secret(env("EXPORTER_TOKEN"))
		if raw.Token == "" {
			raw.TokenFile = env("EXPORTER_TOKEN_FILE")
		}
	}
	out.Listen = raw.Listen
	if out.Listen == "" {
		out.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(out.Listen); err != nil {
		l.addAt("$.server.listen", "", "server.listen %q is not host:port, e.g. 127.0.0.1:9464 or :9464", out.Listen)
	}
	out.Token = raw.Token
	out.MetricsPublic = raw.MetricsPublic
	switch {
	case raw.Token != "" && raw.TokenFile != "":
		l.addAt("$.server.token_file", "", "server.token and server.token_file are both set; keep one")
	case raw.TokenFile != "":
		b, err := os.ReadFile(raw.TokenFile)
		if err != nil {
			l.addAt("$.server.token_file", "", "server.token_file: %v", err)
			break
		}
		out.Token = Secret(strings.TrimSpace(string(b)))
		if out.Token == "" {
			l.addAt("$.server.token_file", "", "server.token_file %s is empty", raw.TokenFile)
		}
	}
	if out.Token != "" && len(out.Token.Reveal()) < 16 {
		l.addAt("$.server", "", "server.token is shorter than 16 characters; use a long random one, e.g. `openssl rand -hex 32`")
	}
	if out.Token == "" && !IsLoopback(out.Listen) {
		l.addAt("$.server.listen", "", "server.listen %s accepts connections from other machines, so the status page and API need a bearer token: set server.token (e.g. ${EXPORTER_TOKEN}) or server.token_file, or listen on 127.0.0.1", out.Listen)
	}
	out.LogLines = DefaultLogLines
	if raw.LogLines != nil {
		out.LogLines = *raw.LogLines
		if out.LogLines < 1 || out.LogLines > MaxLogLines {
			l.addAt("$.server.log_lines", "", "server.log_lines %d must be between 1 and %d", out.LogLines, MaxLogLines)
		}
	}
	out.MaxConnections = DefaultMaxConnections
	if raw.MaxConnections != nil {
		out.MaxConnections = *raw.MaxConnections
		if out.MaxConnections < 1 {
			l.addAt("$.server.max_connections", "", "server.max_connections %d must be at least 1", out.MaxConnections)
		}
	}
	if raw.ExternalURL != "" {
		u, err := url.Parse(raw.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			l.addAt("$.server.external_url", "", "server.external_url %q is not an absolute http(s) URL such as https://exporter.example.com (no query or fragment)", raw.ExternalURL)
		} else {
			out.ExternalURL = strings.TrimRight(raw.ExternalURL, "/")
		}
	}
}

func (l *loader) validateNotify(raws []rawNotify) []Notify {
	var out []Notify
	seen := map[string]bool{}
	for i, r := range raws {
		p := fmt.Sprintf("$.notify[%d]", i)
		bad := func(key, format string, args ...any) {
			l.addAt(p+key, "", "notify[%d]: "+format, append([]any{i}, args...)...)
		}
		n := Notify{Name: r.Name, URL: r.URL, Format: r.Format, On: r.On}
		if n.Name == "" {
			n.Name = fmt.Sprintf("webhook-%d", i+1)
		}
		if seen[n.Name] {
			bad(".name", "duplicate webhook name %q", n.Name)
		}
		seen[n.Name] = true
		if u, err := url.Parse(n.URL.Reveal()); n.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			// Do not echo the URL: it is usually a credential.
			bad(".url", "url must be an http(s) webhook URL (keep it in the environment: url: ${SLACK_WEBHOOK_URL})")
		}
		switch n.Format {
		case "":
			n.Format = FormatJSON
		case FormatJSON, FormatSlack:
		default:
			bad(".format", "format %q is not json or slack", n.Format)
		}
		if len(n.On) == 0 {
			n.On = []string{EventFailure, EventRecovery, EventStale}
		}
		for _, e := range n.On {
			switch e {
			case EventFailure, EventRecovery, EventStale:
			default:
				bad(".on", "event %q is not failure, recovery or stale", e)
			}
		}
		out = append(out, n)
	}
	return out
}

func (l *loader) validateStaleness(p, name string, r *rawJob, j *Job) {
	if r.MaxStaleness == "" {
		return
	}
	d, err := parseDuration(r.MaxStaleness)
	if err != nil {
		l.addAt(p+".max_staleness", name, "max_staleness: %v", err)
		return
	}
	if d < time.Minute {
		l.addAt(p+".max_staleness", name, "max_staleness %s is under a minute; it is checked once a minute", d)
	}
	j.MaxStaleness = d
}

// StaleAfter returns when job, whose data was last checked by the run
// scheduled at last (a success, or a run skipped by its send condition),
// becomes stale: last + max_staleness when the job sets it; otherwise the
// second fire of its schedule after last, so one late or failed run is not
// yet stale but two missed fires are. Zero means never (no max_staleness
// and a schedule that does not fire twice more, e.g. a trigger-only job).
// The status page and the staleness alerts share this definition; alerts
// are sent only for jobs with max_staleness.
func (j *Job) StaleAfter(last time.Time) time.Time {
	if j.MaxStaleness > 0 {
		return last.Add(j.MaxStaleness)
	}
	first := j.Schedule.Next(last)
	if first.IsZero() {
		return time.Time{}
	}
	return j.Schedule.Next(first)
}
