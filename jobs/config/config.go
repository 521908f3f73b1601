package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/robfig/cron/v3"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/zones"
	"github.com/lookerexport/exporter/sinks"
)

// Defaults applied when the file and the environment say nothing.
const (
	DefaultListen        = "127.0.0.1:9464"
	DefaultStateDriver   = "sqlite"
	DefaultStateDSN      = "exporter.db"
	DefaultLookerTimeout = 120 * time.Second
	DefaultJobTimeout    = 6 * time.Hour
)

// Config is a loaded, validated configuration.
type Config struct {
	Path   string // the file it was loaded from
	Looker Looker
	State  State
	Server Server
	GCS    GCS
	Local  Local
	Jobs   []*Job
	// Scheduler holds the daemon-wide scheduling settings.
	Scheduler Scheduler
	Notify    []Notify // alert webhooks
}

// Looker holds the connection settings of the Looker instance.
type Looker struct {
	BaseURL      string
	ClientID     string
	ClientSecret Secret
	Timeout      time.Duration
	VerifySSL    bool
	// CAFile is a PEM bundle of CAs trusted for the Looker host besides
	// the system's (looker.ca_file, LOOKERSDK_CA_FILE), for a private CA.
	CAFile string
	// MaxConcurrentQueries bounds the queries in flight per Looker user,
	// across every replica sharing the state store
	// (looker.max_concurrent_queries; default
	// lookerapi.DefaultMaxConcurrentQueries, below Looker's 15 per user).
	MaxConcurrentQueries int
	// ReadIdleTimeout fails a result that sends nothing for this long
	// (looker.read_idle_timeout; 0 means lookerapi's default, 5m).
	ReadIdleTimeout time.Duration
}

// ClientConfig returns the lookerapi configuration.
func (l Looker) ClientConfig() lookerapi.Config {
	return lookerapi.Config{
		BaseURL:      l.BaseURL,
		ClientID:     l.ClientID,
		ClientSecret: l.ClientSecret.Reveal(),
		Timeout:      l.Timeout,
		VerifySSL:    l.VerifySSL,
		CAFile:       l.CAFile,

		MaxConcurrentQueries: l.MaxConcurrentQueries,
		ReadIdleTimeout:      l.ReadIdleTimeout,
	}
}

// State selects the run-state store.
type State struct {
	Driver string // "sqlite"
	DSN    string
	// Retention is how long finished runs are kept (0: forever).
	Retention time.Duration
}

// Server holds the HTTP listener settings.
type Server struct {
	Listen string
	Token  Secret // bearer token for the API and the status page; required beyond loopback
	// MetricsPublic serves /metrics without the token wherever the server
	// listens (for a Prometheus scraping a pod); the default keeps it
	// behind the token beyond loopback.
	MetricsPublic bool
	LogLines      int // log lines kept per run (DefaultLogLines when unset)
	// MaxConnections caps the connections the status server holds open
	// (DefaultMaxConnections when unset), so clients cannot take the file
	// descriptors runs need.
	MaxConnections int
	// ExternalURL is the status page's address as people reach it (e.g.
	// https://exporter.example.com), without a trailing slash: alerts link
	// to runs there, and the server accepts its host in Host headers. Empty:
	// alerts carry no link.
	ExternalURL string
}

// GCS holds Google Cloud Storage settings.
type GCS struct {
	CredentialsFile string // empty: Application Default Credentials
}

// Local holds the settings of local destinations.
type Local struct {
	// FileMode is the mode of exported files (local.file_mode, default
	// DefaultFileMode); directories the exporter makes get search (x)
	// where it has read (r): see localfs.DirMode.
	FileMode fs.FileMode
}

// Job is one validated export job.
type Job struct {
	Name         string
	Description  string
	Schedule     *Schedule      // fire times in Location
	ScheduleSpec string         // as written
	Location     *time.Location // the schedule's zone: fire times and templates
	Trigger      Trigger        // fires besides Schedule (nil when the job has only a trigger): trigger.go
	// SQLLocation is the zone a SQL Runner source's datetimes are read in
	// (sql_timezone, UTC by default): Looker does not convert them. For
	// every other source the zone is the one Looker used for the query,
	// which the run learns from lookerapi.Result.Timezone.
	SQLLocation *time.Location
	Source      lookerapi.Source
	Run         lookerapi.RunOptions // ResultFormat and Limit filled in; Filters: see source.go
	// DashboardFilters are a dashboard source's filter values by filter
	// name (templates, like Run.Filters), over the dashboard's defaults.
	DashboardFilters map[string]string
	Render           Render // format pdf, png or jpg: see render.go
	Plan             Plan   // format, compression, result format: see plan.go
	Destination      *Template
	IfExists         sinks.IfExists
	Output           Output // files, manifest, splitting, root: see output.go
	ColumnNames      string // "underscore" (default), "field", "label"
	// Types sets column types by Looker field name (job key types:, over
	// the defaults' types:); nil when none. A pivoted measure's name sets
	// all its columns. See formats.ApplyTypes.
	Types   map[string]formats.ColumnType
	Timeout time.Duration
	File    string // the file the job is written in: Config.Path or an included one
	Line    int    // line of the job in File
	// OnTruncation is what a run that returns exactly its limit in rows
	// (or 5,000 with limit -1: Looker's silent cap) does: "warn" (the
	// default: log a warning, publish) or "fail" (fail the run, publish
	// nothing).
	OnTruncation string
	// OnSchemaChange is what a run whose columns or column types differ
	// from the job's last successful run does: "warn" (the default: log
	// the changes, publish) or "fail" (fail the run, publish nothing, until
	// a run with --accept-schema-change makes the new schema the baseline).
	OnSchemaChange string
	// Scheduling: see scheduling.go.
	Overlap       Overlap
	Catchup       Catchup
	CatchupWindow time.Duration
	Retries       Retries
	MaxStaleness  time.Duration // alert when the last success is older; 0: never
}

// Job returns the job with the given name, or nil.
func (c *Config) Job(name string) *Job {
	for _, j := range c.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// JobNames lists the job names in file order.
func (c *Config) JobNames() []string {
	names := make([]string, len(c.Jobs))
	for i, j := range c.Jobs {
		names[i] = j.Name
	}
	return names
}

// Problem is one configuration error, located in the file.
type Problem struct {
	File string
	Line int    // 0 when unknown
	Job  string // empty when not inside a job
	Msg  string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Job != "" {
		b.WriteString(`job "` + p.Job + `": `)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every error found in a config file. Error() lists them one
// per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Options adjust Load.
type Options struct {
	// LookupEnv reads environment variables; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// FS is where include: globs are matched and read, with slash
	// paths; nil means the operating system's files.
	FS fs.FS
	// LookerINI is a looker.ini file to read instead of looker.ini_file
	// (exporter --looker-ini).
	LookerINI string
}

// Load reads, expands, decodes and validates the config file at path.
// On failure the error is a Problems listing everything found, or an
// error reading the file.
func Load(path string, opts Options) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts)
}

// Parse is Load on bytes already read; name is used in messages.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	l := &loader{file: name, main: name, env: opts.LookupEnv, fsys: opts.FS, lookerINIPath: opts.LookerINI, rank: map[string]int{name: 0, filepath.Clean(name): 0}, nulled: map[string]bool{}}
	cfg := l.load(data)
	if len(l.problems) > 0 {
		// File by file, in the order they were read; line by line.
		sort.SliceStable(l.problems, func(i, j int) bool {
			a, b := l.problems[i], l.problems[j]
			if ra, rb := l.rank[a.File], l.rank[b.File]; ra != rb {
				return ra < rb
			}
			return a.Line < b.Line
		})
		return nil, l.capped()
	}
	cfg.Path = name
	return cfg, nil
}

type loader struct {
	lookerINIPath string // Options.LookerINI
	file          string // the file being read or validated: l.main or an included one
	main          string // the file given to Load
	env           func(string) (string, bool)
	fsys          fs.FS          // Options.FS
	rank          map[string]int // files in the order they were read
	ast           *ast.File      // l.file's
	problems      Problems
	unset         map[string]bool // "file:line" holding an unset ${VAR}, already reported
	nulled        map[string]bool // file + "\x00" + YAML path of each value of the wrong kind
	jobs          []jobSrc        // where each of rawFile.Jobs was written
	// defaultTypes are the defaults' types: parsed, rawDefaultTypes as
	// written (types.go).
	defaultTypes    map[string]formats.ColumnType
	rawDefaultTypes map[string]string
}

func (l *loader) add(line int, job, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Job: job, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of the value at a YAML path like "$.jobs[0].schedule",
// falling back to the nearest parent that exists.
func (l *loader) line(path string) int {
	for path != "$" && path != "" {
		if p, err := yaml.PathString(path); err == nil {
			if n, err := p.FilterFile(l.ast); err == nil && n != nil && n.GetToken() != nil {
				return n.GetToken().Position.Line
			}
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (l *loader) load(data []byte) *Config {
	if strings.TrimSpace(string(data)) == "" {
		l.add(0, "", "config is empty; see config.example.yaml for a starting point")
		return nil
	}
	root := l.parse(data, "config must be a mapping with keys looker, state, server, defaults, jobs")
	if root == nil {
		return nil
	}
	l.check(root, typeOf[rawFile]())

	var raw rawFile
	// Decode section by section so one bad value does not hide the rest.
	l.decodeSection(root, "looker", &raw.Looker)
	l.decodeSection(root, "state", &raw.State)
	l.decodeSection(root, "server", &raw.Server)
	l.decodeSection(root, "gcs", &raw.GCS)
	l.decodeSection(root, "local", &raw.Local)
	l.decodeSection(root, "scheduler", &raw.Scheduler)
	l.decodeSection(root, "defaults", &raw.Defaults)
	l.decodeSection(root, "notify", &raw.Notify)
	l.decodeJobs(root, &raw)
	l.include(root, &raw)
	return l.validate(&raw)
}

// parse checks the limits of the file l.file, parses it, and returns its
// root mapping with ${VAR}s expanded; nil after reporting a problem.
// notMapping is the message for a file that is not a mapping.
func (l *loader) parse(data []byte, notMapping string) ast.Node {
	if err := checkLimits(data); err != nil {
		line := 0
		var le *limitError
		if errors.As(err, &le) {
			line = le.line
		}
		l.add(line, "", "%v", err)
		return nil
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		l.addYAMLError(err, "")
		return nil
	}
	l.ast = f
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		l.add(0, "", "config must hold exactly one YAML document, found %d", len(f.Docs))
		return nil
	}
	root := f.Docs[0].Body
	if _, ok := root.(*ast.MappingNode); !ok {
		l.add(nodeLine(root), "", "%s", notMapping)
		return nil
	}
	l.expandEnv(root)
	return root
}

// check runs the checker (keys.go) over a file's root mapping: unknown
// keys, duplicate keys and values of the wrong kind, all reported in the
// user's words; wrong values become null before decoding.
func (l *loader) check(root ast.Node, t reflect.Type) {
	reported := map[Problem]bool{} // an anchor's problems, once however often it is used
	c := newChecker(root, func(line int, path, msg string) {
		p := Problem{File: l.file, Line: line, Msg: msg}
		if keyPath(path) != path { // inside a job, not the job itself
			p.Job = l.jobAt(path)
		}
		if !reported[p] && !l.full() {
			reported[p] = true
			l.problems = append(l.problems, p)
		}
	}, func(path string) {
		l.nulled[l.file+"\x00$."+path] = true
	})
	values, _ := mappingValues(root)
	c.checkStruct(values, t, "")
}

// isNulled reports whether the value at a YAML path ("$.jobs[0].limit"),
// or one holding it, was of the wrong kind: reported, and read as unset.
// Messages about such a value ("limit is required") are follow-ons.
func (l *loader) isNulled(path string) bool {
	for {
		if l.nulled[l.file+"\x00"+path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return false
		}
		path = path[:i]
	}
}

// nulledUnder is isNulled, or a value inside path was nulled.
func (l *loader) nulledUnder(path string) bool {
	if l.isNulled(path) {
		return true
	}
	prefix := l.file + "\x00" + path
	for k := range l.nulled {
		if rest, ok := strings.CutPrefix(k, prefix); ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "[")) {
			return true
		}
	}
	return false
}

// jobReported reports whether jobs, or a job, of any file was nulled: a
// config whose every job was reported is not "no jobs".
func (l *loader) jobReported() bool {
	for k := range l.nulled {
		if _, p, _ := strings.Cut(k, "\x00"); p == "$.jobs" || strings.HasPrefix(p, "$.jobs[") {
			return true
		}
	}
	return false
}

// addAt reports a problem with the value at a YAML path, on its line,
// unless that value was already reported as of the wrong kind.
func (l *loader) addAt(path, job, format string, args ...any) {
	if l.isNulled(path) {
		return
	}
	l.add(l.line(path), job, format, args...)
}

func (l *loader) decodeSection(root ast.Node, key string, dst any) {
	n := mappingValue(root, key)
	if n == nil {
		return
	}
	if err := yaml.NodeToValue(n, dst); err != nil {
		l.addYAMLError(err, "")
	}
}

// decodeJobs decodes each job of the file over a copy of the defaults and
// notes where it came from. The checker has reported, and nulled, a jobs
// that is not a list and every item that is not a mapping.
func (l *loader) decodeJobs(root ast.Node, raw *rawFile) {
	seq, ok := mappingValue(root, "jobs").(*ast.SequenceNode)
	if !ok || l.tooManyJobs(seq) {
		return
	}
	for i, n := range seq.Values {
		if l.full() {
			return
		}
		if _, ok := mappingValues(unwrap(n)); !ok {
			continue
		}
		r := raw.Defaults.clone()
		if err := yaml.NodeToValue(n, &r); err != nil {
			// Only what the checker cannot see is left: an alias the
			// decoder cannot resolve. The job counts as reported.
			l.addYAMLError(err, jobName(n, i))
			l.nulled[l.file+"\x00"+fmt.Sprintf("$.jobs[%d]", i)] = true
			continue
		}
		raw.Jobs = append(raw.Jobs, r)
		l.jobs = append(l.jobs, jobSrc{file: l.file, ast: l.ast, index: i})
	}
}

// jobSrc is where a decoded job was written: its file and its index in
// that file's jobs list.
type jobSrc struct {
	file  string
	ast   *ast.File
	index int
}

// jobAt names the job a YAML path like "jobs[2].source" points into.
func (l *loader) jobAt(path string) string {
	rest, ok := strings.CutPrefix(path, "jobs[")
	if !ok {
		return ""
	}
	idx, _, _ := strings.Cut(rest, "]")
	i, err := strconv.Atoi(idx)
	if err != nil {
		return ""
	}
	p, err := yaml.PathString(fmt.Sprintf("$.jobs[%d].name", i))
	if err != nil {
		return ""
	}
	if n, err := p.FilterFile(l.ast); err == nil && n != nil {
		if s, ok := n.(*ast.StringNode); ok {
			return s.Value
		}
	}
	return fmt.Sprintf("#%d", i+1)
}

func jobName(n ast.Node, i int) string {
	if v, ok := mappingValue(n, "name").(*ast.StringNode); ok {
		return v.Value
	}
	return fmt.Sprintf("#%d", i+1)
}

func (l *loader) addYAMLError(err error, job string) {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		l.add(ye.GetToken().Position.Line, job, "%s", ye.GetMessage())
		return
	}
	l.add(0, job, "%v", err)
}

// expandEnv replaces ${VAR} in every string scalar of the tree, in place.
func (l *loader) expandEnv(root ast.Node) {
	ast.Walk(visitor(func(n ast.Node) {
		s, ok := n.(*ast.StringNode)
		if !ok {
			return
		}
		v, missing, err := expandEnv(s.Value, l.env)
		line := nodeLine(s)
		if err != nil {
			l.add(line, "", "%v", err)
			return
		}
		for _, name := range missing {
			if l.unset == nil {
				l.unset = map[string]bool{}
			}
			l.unset[l.file+":"+strconv.Itoa(line)] = true
			l.add(line, "", "environment variable %s is not set; export it, or write ${%s:-default} to give a default", name, name)
		}
		s.Value = v
	}), root)
}

type visitor func(ast.Node)

func (v visitor) Visit(n ast.Node) ast.Visitor {
	v(n)
	return v
}

func mappingValue(n ast.Node, key string) ast.Node {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return nil
	}
	for _, mv := range m.Values {
		if mv.Key != nil && keyString(mv.Key) == key {
			return mv.Value
		}
	}
	return nil
}

func keyString(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}

func nodeLine(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

var jobNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// location is time.LoadLocation, read from disk once per zone
// (zones.Load). "Local" is refused: it names the machine's zone, not the
// job's.
func (l *loader) location(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errors.New("Local is not a zone name")
	}
	return zones.Load(name)
}

func (l *loader) validate(raw *rawFile) *Config {
	cfg := &Config{}
	l.validateLooker(raw.Looker, &cfg.Looker)

	cfg.State = State{Driver: raw.State.Driver, DSN: raw.State.DSN}
	if cfg.State.Driver == "" {
		cfg.State.Driver = DefaultStateDriver
	}
	switch cfg.State.Driver {
	case "sqlite":
		if cfg.State.DSN == "" {
			cfg.State.DSN = DefaultStateDSN
		}
	case "postgres":
		if cfg.State.DSN == "" && !l.isNulled("$.state.dsn") {
			l.addAt("$.state", "", "state.dsn is required for postgres, e.g. postgres://exporter@db:5432/exporter?sslmode=require")
		}
	default:
		l.addAt("$.state.driver", "", "state.driver %q is not supported; use sqlite or postgres", cfg.State.Driver)
	}

	l.validateServer(raw.Server, &cfg.Server)
	cfg.Notify = l.validateNotify(raw.Notify)
	cfg.GCS.CredentialsFile = raw.GCS.CredentialsFile
	cfg.Local.FileMode = l.fileMode(raw.Local.FileMode)
	l.validateScheduler(raw, cfg)

	if len(raw.Jobs) == 0 && !l.jobReported() {
		l.addAt("$.jobs", "", "no jobs: add at least one under jobs:")
	}
	l.validateDefaultTypes(raw.Defaults.Types)
	seen := map[string]*Job{}
	mainAST := l.ast
	for i := range raw.Jobs {
		if l.full() {
			break
		}
		src := l.jobs[i]
		l.file, l.ast = src.file, src.ast
		j := l.validateJob(src.index, &raw.Jobs[i])
		j.File = src.file
		if prev, dup := seen[j.Name]; dup {
			if prev.File == j.File {
				l.add(j.Line, j.Name, "duplicate job name; the first is on line %d", prev.Line)
			} else {
				l.add(j.Line, j.Name, "duplicate job name; the first is in %s:%d", prev.File, prev.Line)
			}
			continue
		}
		seen[j.Name] = j
		cfg.Jobs = append(cfg.Jobs, j)
	}
	l.file, l.ast = l.main, mainAST
	return cfg
}

// getenv is the environment variable name, or "" when unset.
func (l *loader) getenv(name string) string {
	v, _ := l.env(name)
	return v
}

func (l *loader) validateLooker(raw rawLooker, out *Looker) {
	// Each key: the config file's, else LOOKERSDK_*, else looker.ini's
	// section (as the SDKs: the environment overrides the ini file).
	env := l.getenv
	ini := l.lookerINI(raw)
	sdk := func(key string) string { return l.lookerSetting(ini, key) }
	out.BaseURL = firstNonEmpty(raw.BaseURL, sdk("base_url"))
	out.ClientID = firstNonEmpty(raw.ClientID, sdk("client_id"))
	out.ClientSecret = Secret(firstNonEmpty(raw.ClientSecret.Reveal(), l.lookerSecretFile(raw).Reveal(), sdk("client_secret")))
	out.VerifySSL = true
	if raw.VerifySSL != nil {
		out.VerifySSL = *raw.VerifySSL
	} else if v := sdk("verify_ssl"); v != "" {
		b, err := parseSDKBool(v)
		if err != nil {
			l.add(0, "", "verify_ssl %q (LOOKERSDK_VERIFY_SSL or looker.ini) is not a boolean; use true or false", v)
		}
		out.VerifySSL = b
	}
	out.CAFile = firstNonEmpty(raw.CAFile, env("LOOKERSDK_CA_FILE"))
	out.Timeout = DefaultLookerTimeout
	if t := firstNonEmpty(raw.Timeout, sdk("timeout")); t != "" {
		d, err := parseDuration(t)
		if err != nil {
			l.addAt("$.looker.timeout", "", "looker.timeout: %v", err)
		}
		out.Timeout = d
	}
	if raw.ReadIdleTimeout != "" {
		d, err := parseDuration(raw.ReadIdleTimeout)
		if err != nil {
			l.addAt("$.looker.read_idle_timeout", "", "looker.read_idle_timeout: %v", err)
		}
		out.ReadIdleTimeout = d
	}
	out.MaxConcurrentQueries = lookerapi.DefaultMaxConcurrentQueries
	if raw.MaxConcurrentQueries != nil {
		out.MaxConcurrentQueries = *raw.MaxConcurrentQueries
		if out.MaxConcurrentQueries < 1 || out.MaxConcurrentQueries > 75 {
			l.addAt("$.looker.max_concurrent_queries", "", "looker.max_concurrent_queries %d must be between 1 and 75; keep it below the API user's query limit (15 by default in Looker)", out.MaxConcurrentQueries)
		}
	}
	if out.BaseURL == "" {
		if !l.isNulled("$.looker.base_url") {
			l.addAt("$.looker", "", "looker.base_url is required (or set LOOKERSDK_BASE_URL), e.g. https://example.cloud.looker.com")
		}
	} else if !strings.HasPrefix(out.BaseURL, "https://") && !strings.HasPrefix(out.BaseURL, "http://") {
		l.addAt("$.looker.base_url", "", "looker.base_url %q must start with https:// (or http://)", out.BaseURL)
	}
	out.BaseURL = strings.TrimSuffix(strings.TrimSuffix(out.BaseURL, "/"), "/api/4.0")
	if line := l.line("$.looker.client_id"); out.ClientID == "" && !l.unset[l.file+":"+strconv.Itoa(line)] && !l.isNulled("$.looker.client_id") {
		l.add(line, "", "looker.client_id is required (or set LOOKERSDK_CLIENT_ID)")
	}
	if line := l.line("$.looker.client_secret"); out.ClientSecret == "" && !l.unset[l.file+":"+strconv.Itoa(line)] && !l.isNulled("$.looker.client_secret") {
		l.add(line, "", "looker.client_secret is required (or set LOOKERSDK_CLIENT_SECRET)")
	}
}

// parseDuration accepts Go durations ("90s", "2h") and plain seconds ("120").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write e.g. 90s, 15m or 2h", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func (l *loader) validateJob(i int, r *rawJob) *Job {
	p := fmt.Sprintf("$.jobs[%d]", i)
	line := l.line(p)
	name := r.Name
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	if name == "" {
		name = fmt.Sprintf("#%d", i+1)
		bad("name", "name is required ([a-z0-9_-], starting with a letter or digit)")
	} else if !jobNameRE.MatchString(name) {
		bad("name", "name %q must match [a-z0-9][a-z0-9_-]* (lower case, digits, _ and -; at most 63 characters)", name)
	}
	j := &Job{Name: name, Description: r.Description, Line: line, ScheduleSpec: r.Schedule}

	tz := r.Timezone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := l.location(tz)
	if err != nil {
		bad("timezone", "timezone %q is not an IANA time zone name such as UTC, Europe/Berlin or America/New_York", tz)
		loc = time.UTC
	}
	j.Location = loc

	if r.Schedule == "" && r.Trigger == nil && !l.isNulled(p+".trigger") {
		bad("schedule", `schedule is required: 5 cron fields ("0 6 * * *"), 6 with seconds, or @daily / @every 15m (or trigger: {datagroup: model::name} to run when Looker's data refreshes)`)
	} else if r.Schedule == "" {
		// trigger.go: fired only by its trigger.
	} else if s, err := ParseSchedule(r.Schedule, loc); err != nil {
		bad("schedule", "schedule %q is not a valid cron expression: %v", r.Schedule, err)
	} else {
		j.Schedule = s
	}
	l.validateTrigger(p, name, r, j)

	l.validateSource(p, name, r, j)
	l.validateStaleness(p, name, r, j)

	j.Run = lookerapi.RunOptions{
		Limit: -1, ApplyFormatting: r.ApplyFormatting, ApplyVis: r.ApplyVis, Cache: r.Cache,
		ForceProduction: r.ForceProduction, ServerTableCalcs: r.ServerTableCalcs, RebuildPDTs: r.RebuildPDTs,
		Mode: lookerapi.Mode(r.Mode), RunAs: string(r.RunAs),
	}
	l.validateSourceFilters(p, name, &r.Source, j)
	switch j.Run.Mode {
	case "":
		j.Run.Mode = lookerapi.ModeSync
	case lookerapi.ModeSync, lookerapi.ModeAsync:
	default:
		bad("mode", "mode %q is not sync (stream the result in one request, the default) or async (a Looker query task, polled; for queries that run for minutes)", r.Mode)
	}
	if j.Run.RunAs != "" {
		if n, err := strconv.ParseUint(j.Run.RunAs, 10, 64); err != nil || n == 0 {
			bad("run_as", "run_as %q is not a Looker user id (a number, see Admin > Users)", j.Run.RunAs)
		}
	}
	j.OnTruncation = r.OnTruncation
	switch j.OnTruncation {
	case "":
		j.OnTruncation = "warn"
	case "warn", "fail":
	default:
		bad("on_truncation", "on_truncation %q is not warn or fail", r.OnTruncation)
	}
	j.OnSchemaChange = r.OnSchemaChange
	switch j.OnSchemaChange {
	case "":
		j.OnSchemaChange = "warn"
	case "warn", "fail":
	default:
		bad("on_schema_change", "on_schema_change %q is not warn or fail", r.OnSchemaChange)
	}
	switch r.Limit {
	case "":
	case "saved":
		if j.Source.Query != nil || j.Source.SQL != nil {
			bad("limit", "limit saved keeps the limit saved with a Look or query; an inline or SQL Runner source has none: use -1 for all rows or a row count")
		}
		j.Run.SavedLimit, j.Run.Limit = true, 0
	default:
		n, err := strconv.ParseInt(string(r.Limit), 10, 64)
		if err != nil || n == 0 || n < -1 {
			bad("limit", "limit %s is not valid: use -1 for all rows, a positive row count, or saved (the Look's or saved query's own limit)", r.Limit)
		}
		j.Run.Limit = n
	}
	j.Run.QueryTimezone = r.QueryTimezone
	if r.QueryTimezone != "" {
		if _, err := l.location(r.QueryTimezone); err != nil {
			bad("query_timezone", "query_timezone %q is not an IANA time zone name such as UTC or America/New_York", r.QueryTimezone)
		}
		if j.Source.SQL != nil {
			bad("query_timezone", "query_timezone does not apply to SQL Runner sources (Looker does not convert their values); use sql_timezone to say which zone their datetimes are in")
		}
	}
	j.SQLLocation = time.UTC
	if r.SQLTimezone != "" {
		loc, err := l.location(r.SQLTimezone)
		switch {
		case err != nil:
			bad("sql_timezone", "sql_timezone %q is not an IANA time zone name such as UTC or America/New_York", r.SQLTimezone)
		case j.Source.SQL == nil:
			bad("sql_timezone", "sql_timezone applies to SQL Runner sources only; for Looks and queries Looker converts datetimes to the query time zone (see query_timezone)")
		default:
			j.SQLLocation = loc
		}
	}
	l.resolvePlan(p, name, r, j)

	j.ColumnNames = r.ColumnNames
	if j.ColumnNames == "" {
		j.ColumnNames = "underscore"
	}
	switch j.ColumnNames {
	case "underscore", "field", "label":
	default:
		bad("column_names", "column_names %q is not one of underscore, field, label", r.ColumnNames)
	}
	j.IfExists = sinks.IfExists(r.IfExists)
	switch j.IfExists {
	case "":
		j.IfExists = sinks.Overwrite
	case sinks.Overwrite, sinks.Skip, sinks.Fail:
	default:
		bad("if_exists", "if_exists %q is not one of overwrite, skip, fail", r.IfExists)
	}

	l.validateJobScheduling(p, name, r, j)
	j.Timeout = DefaultJobTimeout
	if r.Timeout != "" {
		d, err := parseDuration(r.Timeout)
		if err != nil {
			bad("timeout", "timeout: %v", err)
		}
		j.Timeout = d
	}

	if r.Destination == "" {
		bad("destination", "destination is required: gs://bucket/path/file or a local path, e.g. exports/{{ .Job }}/{{ date \"2006-01-02\" }}.csv")
	} else if t, err := ParseTemplate(r.Destination); err != nil {
		bad("destination", "%v", err)
	} else {
		j.Destination = t
		if _, err := t.Render(SampleData(j)); err != nil {
			bad("destination", "%v", err)
			j.Destination = nil
		}
	}
	l.validateOutput(p, name, r, j)
	l.validateTileDestination(p, name, j)
	l.validateTypes(p, name, r, j)
	l.validateBigQuerySchema(p, name, r, j)
	return j
}

func (l *loader) validateSource(p, name string, r *rawJob, j *Job) {
	s := r.Source
	src := lookerapi.Source{LookID: string(s.LookID), QueryID: string(s.QueryID), QuerySlug: s.QuerySlug, Query: s.Query, SQL: s.SQL, DashboardID: string(s.DashboardID)}
	set := 0
	for _, ok := range []bool{src.LookID != "", src.QueryID != "", src.QuerySlug != "", src.Query != nil, src.SQL != nil, src.DashboardID != ""} {
		if ok {
			set++
		}
	}
	bad := func(key, format string, args ...any) {
		if !l.nulledUnder(p + ".source" + key) {
			l.add(l.line(p+".source"+key), name, format, args...)
		}
	}
	switch {
	case set == 0:
		bad("", "source needs exactly one of look_id, query_id, query_slug, query, sql, dashboard_id")
	case set > 1:
		bad("", "source has %d of look_id, query_id, query_slug, query, sql, dashboard_id; keep exactly one", set)
	case src.Query != nil:
		if src.Query.Model == "" || src.Query.View == "" {
			bad(".query", "source.query needs model and view (the explore name)")
		}
		if len(src.Query.Fields) == 0 {
			bad(".query", "source.query needs fields, e.g. [orders.id, orders.created_date]")
		}
	case src.SQL != nil:
		switch {
		case src.SQL.Slug != "" && src.SQL.SQL != "":
			bad(".sql", "source.sql takes either slug (an existing SQL Runner query) or sql text, not both")
		case src.SQL.Slug == "" && src.SQL.SQL == "":
			bad(".sql", "source.sql needs sql (with connection or model) or slug")
		case src.SQL.SQL != "" && src.SQL.Connection == "" && src.SQL.Model == "":
			bad(".sql", "source.sql needs connection (a Looker connection name) or model to run the SQL on")
		}
	}
	j.Source = src
}

// clone copies a rawJob deeply enough that decoding a job over the copy
// never writes into the defaults.
func (r rawJob) clone() rawJob {
	c := r
	if r.Trigger != nil {
		t := *r.Trigger
		c.Trigger = &t
	}
	if r.Source.Query != nil {
		q := *r.Source.Query
		c.Source.Query = &q
	}
	if r.Source.SQL != nil {
		q := *r.Source.SQL
		c.Source.SQL = &q
	}
	c.Source.Filters = maps.Clone(r.Source.Filters)
	c.Types = maps.Clone(r.Types)
	if r.Render != nil {
		rr := *r.Render
		c.Render = &rr
	}
	return c
}
