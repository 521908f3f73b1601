package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lookerexport/exporter/jobs/config"
)

// readmeSection is the README's "## title" section.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, sec, ok := strings.Cut(string(b), "\n## "+title+"\n")
	require.True(t, ok, "README has no section %q", title)
	sec, _, _ = strings.Cut(sec, "\n## ")
	return sec
}

// fenced returns the section's ```lang blocks.
func fenced(sec, lang string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		out = append(out, m[1])
	}
	return out
}

// commands joins continued lines and returns the commands starting with prefix.
func commands(block, prefix string) []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

// TestReadmeKubernetes follows the README's Kubernetes section: its
// `kubectl create secret` lines become the Secrets, its values file is
// written, and each `helm install` line runs as `helm template` with the
// same arguments; the manifests are then checked as the CI values' are,
// with what the section promises (names, drain and grace).
func TestReadmeKubernetes(t *testing.T) {
	t.Parallel()
	sec := readmeSection(t, "Kubernetes")
	dir := t.TempDir()
	for _, y := range fenced(sec, "yaml") {
		name, ok := strings.CutPrefix(strings.SplitN(y, "\n", 2)[0], "# ")
		require.True(t, ok, "a values block starts with # FILE: %q", y)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(y), 0o600))
	}
	secrets := map[string]corev1.Secret{}
	var installs [][]string
	for _, block := range fenced(sec, "sh") {
		for _, c := range commands(block, "kubectl create secret generic ") {
			words := shellWords(t, strings.ReplaceAll(c, "$(openssl rand -hex 32)", strings.Repeat("ab", 32)), nil)
			s := corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: words[4]}, StringData: map[string]string{}}
			for _, w := range words[5:] {
				kv, ok := strings.CutPrefix(w, "--from-literal=")
				require.True(t, ok, "%s", c)
				k, v, _ := strings.Cut(kv, "=")
				s.StringData[k] = v
			}
			secrets[s.Name] = s
		}
		for _, c := range commands(block, "helm install ") {
			installs = append(installs, shellWords(t, c, nil))
		}
	}
	require.Len(t, installs, 2, "the daemon's and the CronJob mode's helm install")
	require.Contains(t, secrets, "exporter-token")

	for _, args := range installs {
		args = slices.Clone(args)
		args[1] = "template"
		for i, a := range args {
			if i > 0 && args[i-1] == "-f" {
				args[i] = filepath.Join(dir, a)
			}
		}
		r := decode(t, helm(t, "..", args[1:]...))
		for name, s := range secrets {
			r.secrets[name] = s
		}
		if slices.Contains(args, "mode=cronjob") {
			retries := int32(3) // the chart's default
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "cronjob.retries="); ok {
					n, err := strconv.Atoi(v)
					require.NoError(t, err)
					retries = int32(n)
				}
			}
			checkCronJobs(t, r, retries)
			for _, cj := range r.cronJobs {
				require.Contains(t, sec, "`"+cj.Name+"`", "the README names the CronJobs it makes")
			}
			continue
		}
		d, cfg, drain := checkDaemon(t, r)
		require.Contains(t, sec, "deploy/"+d.Name+" 9464", "the README's port-forward names the Deployment")
		require.Equal(t, 300*time.Second, drain)
		require.Equal(t, int64(315), *d.Spec.Template.Spec.TerminationGracePeriodSeconds, "the README's drain + 15s")
		require.Equal(t, "https://hooks.slack.com/services/T0/B0/change-me", cfg.Notify[0].URL.Reveal(), "envFrom's Secret fills ${SLACK_WEBHOOK_URL}")
		require.Equal(t, []string{"orders_daily", "revenue_hourly"}, cfg.JobNames())
	}
}

// TestReadmeDocker follows the README's Docker section as far as it can
// without docker: the `docker run` line's mounts and environment against
// the Dockerfile (config path, state volume, token file, stop timeout
// against the drain), and a jobs.yaml with no server: or state: keys
// loads in that container's environment listening on all interfaces with
// the mounted token and SQLite on the volume.
func TestReadmeDocker(t *testing.T) {
	t.Parallel()
	sec := readmeSection(t, "Docker")
	var run []string
	for _, block := range fenced(sec, "sh") {
		for _, c := range commands(block, "docker run ") {
			run = shellWords(t, c, map[string]string{"PWD": "/home/me"})
		}
	}
	require.NotEmpty(t, run, "the README's docker run")
	d := parseDockerfile(t, "../Dockerfile")

	mounts := map[string]string{} // container path -> host path or volume
	env := map[string]string{}
	for _, e := range d.with("ENV ") {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	var stop time.Duration
	for i := 2; i < len(run); i++ {
		switch run[i] {
		case "-v":
			parts := strings.Split(run[i+1], ":")
			mounts[parts[1]] = parts[0]
			i++
		case "-e":
			k, v, ok := strings.Cut(run[i+1], "=")
			if !ok {
				v = "from-the-shell-" + k
			}
			env[k] = v
			i++
		case "--stop-timeout":
			n, err := strconv.Atoi(run[i+1])
			require.NoError(t, err)
			stop = time.Duration(n) * time.Second
			i++
		}
	}
	require.Equal(t, "exporter", run[len(run)-1], "the image, with its own CMD")

	cmd := jsonArray(t, d.with("CMD ")[0])
	i := slices.Index(cmd, "--config")
	require.Contains(t, mounts, cmd[i+1], "the README mounts jobs.yaml where the image's CMD reads it")
	i = slices.Index(cmd, "--drain-timeout")
	drain, err := time.ParseDuration(cmd[i+1])
	require.NoError(t, err)
	require.Greater(t, stop, drain, "docker run --stop-timeout must outlast the image's --drain-timeout")
	require.Contains(t, sec, "--drain-timeout` ("+strconv.Itoa(int(drain.Seconds()))+" s in the", "the README states the image's drain")

	volume := jsonArray(t, `["`+strings.TrimSpace(d.with("VOLUME ")[0])+`"]`)[0]
	require.Contains(t, mounts, volume, "the README mounts a volume on the image's state directory")
	require.Equal(t, []string{volume}, d.with("WORKDIR ")[1:], "the runtime stage works in the state volume: SQLite's relative exporter.db lands there")
	require.Contains(t, mounts, env["EXPORTER_TOKEN_FILE"], "EXPORTER_TOKEN_FILE names a mounted file")

	// The container's view: the mounted token, a jobs.yaml without server:.
	root := t.TempDir()
	tokenPath := filepath.Join(root, env["EXPORTER_TOKEN_FILE"])
	require.NoError(t, os.MkdirAll(filepath.Dir(tokenPath), 0o755))
	require.NoError(t, os.WriteFile(tokenPath, []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
	env["EXPORTER_TOKEN_FILE"] = tokenPath
	conf := filepath.Join(root, "jobs.yaml")
	require.NoError(t, os.WriteFile(conf, []byte(`looker: {base_url: https://example.cloud.looker.com}
jobs:
  - {name: j, schedule: '@daily', source: {look_id: '42'}, format: csv, destination: /exports/j.csv}
`), 0o600))
	cfg, err := config.Load(conf, config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:9464", cfg.Server.Listen)
	require.Equal(t, strings.Repeat("ab", 32), cfg.Server.Token.Reveal())
	require.Equal(t, "sqlite", cfg.State.Driver)
	require.False(t, filepath.IsAbs(cfg.State.DSN), "SQLite's default file is relative to the WORKDIR, the volume")
	require.Equal(t, []string{"9464"}, d.with("EXPOSE "))
	require.Contains(t, run, "9464:9464")
}
