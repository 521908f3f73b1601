package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state/sqlite"
)

const chart = "helm/exporter"

// exitTempFail is `exporter run`'s exit code for a retryable failure
// (cmd/exporter exitTempFail, README "Exit codes"): the only one the
// CronJobs retry.
const exitTempFail = 75

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// the chart writes (its CRD types are not in k8s.io/api).
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// rendered is one mode's manifests, decoded.
type rendered struct {
	deployments     []appsv1.Deployment
	cronJobs        []batchv1.CronJob
	configMaps      []corev1.ConfigMap
	secrets         map[string]corev1.Secret
	services        []corev1.Service
	pdbs            []policyv1.PodDisruptionBudget
	serviceMonitors []serviceMonitor
}

// helmTemplate runs `helm template` on the chart with a ci/ values file.
func helmTemplate(t *testing.T, values string) []byte {
	t.Helper()
	return helm(t, "..", "template", "ex", "deploy/"+chart, "-f", filepath.Join("deploy", chart, "ci", values))
}

// helm runs $EXPORTER_HELM (.ci/run installs helm v4 as a Go module and
// sets it) in dir.
func helm(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	bin := os.Getenv("EXPORTER_HELM")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("EXPORTER_HELM is not set: .ci/run installs helm and sets it")
		}
		t.Skip("needs helm: GOBIN=/tmp/helm go install helm.sh/helm/v4/cmd/helm@v4.3.2 && EXPORTER_HELM=/tmp/helm/helm go test ./deploy")
	}
	// Read the chart here too: go test's cache then knows the result
	// depends on it (helm, a subprocess, reads it unseen).
	require.NoError(t, filepath.WalkDir(chart, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			_, err = os.ReadFile(path)
		}
		return err
	}))
	out, err := helmErr(bin, dir, args...)
	require.NoError(t, err)
	return out
}

// helmErr runs helm; its error holds helm's stderr.
func helmErr(bin, dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, ee.Stderr)
	}
	return out, err
}

// TestChartRefusesDaemonOnSQLite: replicas cannot share SQLite, and a
// pod's disk goes with it, so the daemon renders only on PostgreSQL; a
// drain Kubernetes would cut short is refused too.
func TestChartRefusesDaemonOnSQLite(t *testing.T) {
	t.Parallel()
	helm(t, "..", "version") // skips without helm
	values := filepath.Join("deploy", chart, "ci", "daemon-values.yaml")
	for _, tc := range []struct{ set, want string }{
		{set: "state.dsn=", want: "daemon mode needs PostgreSQL state (SQLite is not supported for more than one replica"},
		{set: "shutdownMarginSeconds=0", want: "shutdownMarginSeconds must be at least 1"},
	} {
		_, err := helmErr(os.Getenv("EXPORTER_HELM"), "..", "template", "ex", "deploy/"+chart, "-f", values, "--set", tc.set)
		require.ErrorContains(t, err, tc.want, tc.set)
	}
}

// decode decodes every document strictly (an unknown or misspelt field
// fails) into its k8s.io/api type.
func decode(t *testing.T, manifests []byte) rendered {
	t.Helper()
	r := rendered{secrets: map[string]corev1.Secret{}}
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(manifests), -1)
	n := 0
	for _, doc := range docs {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		n++
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm))
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/Deployment":
			r.deployments = append(r.deployments, strict[appsv1.Deployment](t, doc))
		case "batch/v1/CronJob":
			r.cronJobs = append(r.cronJobs, strict[batchv1.CronJob](t, doc))
		case "v1/ConfigMap":
			r.configMaps = append(r.configMaps, strict[corev1.ConfigMap](t, doc))
		case "v1/Secret":
			sec := strict[corev1.Secret](t, doc)
			r.secrets[sec.Name] = sec
		case "v1/Service":
			r.services = append(r.services, strict[corev1.Service](t, doc))
		case "policy/v1/PodDisruptionBudget":
			r.pdbs = append(r.pdbs, strict[policyv1.PodDisruptionBudget](t, doc))
		case "monitoring.coreos.com/v1/ServiceMonitor":
			r.serviceMonitors = append(r.serviceMonitors, strict[serviceMonitor](t, doc))
		default:
			t.Fatalf("rendered %s/%s, which this test does not decode: add its type", tm.APIVersion, tm.Kind)
		}
	}
	require.NotZero(t, n)
	return r
}

// strict decodes one manifest into T; an unknown or misspelt field fails.
func strict[T any](t *testing.T, doc string) T {
	t.Helper()
	var v T
	require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &v), "%T:\n%s", v, doc)
	return v
}

// podConfig loads the config a pod would see: the ConfigMap's files where
// the pod mounts them, the Secrets' files and env vars, with every mount
// path moved under a temporary directory.
func podConfig(t *testing.T, r rendered, pod corev1.PodSpec, c corev1.Container) *config.Config {
	t.Helper()
	root := t.TempDir()
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	var moves []string // mountPath, temporary path
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		require.True(t, ok, "container %s mounts volume %s, which the pod does not have", c.Name, m.Name)
		dir := filepath.Join(root, m.MountPath)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		moves = append(moves, m.MountPath+"/", dir+"/")
		switch {
		case v.ConfigMap != nil:
			cm := findConfigMap(t, r, v.ConfigMap.Name)
			require.NotEmpty(t, v.ConfigMap.Items)
			for _, it := range v.ConfigMap.Items {
				data, ok := cm.Data[it.Key]
				require.True(t, ok, "volume %s: ConfigMap %s has no key %s", v.Name, cm.Name, it.Key)
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, it.Path)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, it.Path), []byte(data), 0o644))
			}
		case v.Secret != nil:
			s, ok := r.secrets[v.Secret.SecretName]
			require.True(t, ok, "volume %s: no Secret %s rendered", v.Name, v.Secret.SecretName)
			for _, it := range v.Secret.Items {
				val, ok := s.StringData[it.Key]
				require.True(t, ok, "volume %s: Secret %s has no key %s", v.Name, s.Name, it.Key)
				require.NoError(t, os.WriteFile(filepath.Join(dir, it.Path), []byte(val), 0o600))
			}
		default:
			require.NotNil(t, v.EmptyDir, "volume %s", v.Name)
		}
	}
	env := map[string]string{"EXPORTER_LISTEN": "0.0.0.0:9464"} // the image's ENV (Dockerfile)
	for _, ef := range c.EnvFrom {
		require.NotNil(t, ef.SecretRef, "envFrom: only secretRef is checked")
		sec, ok := r.secrets[ef.SecretRef.Name]
		require.True(t, ok, "envFrom: no Secret %s", ef.SecretRef.Name)
		for k, v := range sec.StringData {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		require.NotNil(t, ref, "env %s", e.Name)
		s, ok := r.secrets[ref.Name]
		require.True(t, ok, "env %s: no Secret %s rendered", e.Name, ref.Name)
		env[e.Name], ok = s.StringData[ref.Key]
		require.True(t, ok, "env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
	}
	i := slices.Index(c.Args, "--config")
	require.GreaterOrEqual(t, i, 0, "args %v", c.Args)
	path := strings.NewReplacer(moves...).Replace(c.Args[i+1])
	main, err := os.ReadFile(path)
	require.NoError(t, err, "the container's --config is not where the ConfigMap is mounted")
	require.NoError(t, os.WriteFile(path, []byte(strings.NewReplacer(moves...).Replace(string(main))), 0o644))
	cfg, err := config.Load(path, config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err, "the rendered config does not load")
	return cfg
}

func findConfigMap(t *testing.T, r rendered, name string) corev1.ConfigMap {
	t.Helper()
	for _, cm := range r.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	t.Fatalf("no ConfigMap %s rendered", name)
	return corev1.ConfigMap{}
}

func restricted(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.True(t, *sc.RunAsNonRoot)
	require.True(t, *sc.ReadOnlyRootFilesystem)
	require.False(t, *sc.AllowPrivilegeEscalation)
	require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	require.NotNil(t, pod.SecurityContext)
	require.NotEmpty(t, c.Resources.Requests)
}

// TestManifestsDaemon renders the chart in daemon mode, decodes every
// manifest strictly, and checks it against the exporter itself: the
// config loads, the probes and the ServiceMonitor's path answer without
// the token on the server that config builds, the container port is the
// listen port, and the grace period outlasts the drain.
func TestManifestsDaemon(t *testing.T) {
	t.Parallel()
	r := decode(t, helmTemplate(t, "daemon-values.yaml"))
	d, cfg, drain := checkDaemon(t, r)
	require.Equal(t, int32(3), *d.Spec.Replicas)
	require.Equal(t, "https://example.cloud.looker.com", cfg.Looker.BaseURL)
	require.Equal(t, "ci-client-secret", cfg.Looker.ClientSecret.Reveal(), "LOOKERSDK_CLIENT_SECRET reaches the config from the Secret")
	require.Equal(t, "postgres://exporter:pw@postgres:5432/exporter?sslmode=require", cfg.State.DSN)
	require.Equal(t, []string{"orders_daily", "revenue_hourly"}, cfg.JobNames(), "config.jobs and jobFiles' include")
	require.Equal(t, 120*time.Second, drain, "drainTimeoutSeconds")
}

// checkDaemon checks daemon-mode manifests against the exporter and
// returns the Deployment, the config its pods load, and their drain.
func checkDaemon(t *testing.T, r rendered) (appsv1.Deployment, *config.Config, time.Duration) {
	t.Helper()
	require.Len(t, r.deployments, 1)
	d := r.deployments[0]
	pod := d.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	restricted(t, pod, c)
	require.Equal(t, "serve", c.Args[0])

	cfg := podConfig(t, r, pod, c)
	require.Equal(t, "postgres", cfg.State.Driver, "daemon replicas share PostgreSQL state")

	_, port, err := net.SplitHostPort(cfg.Server.Listen)
	require.NoError(t, err)
	require.Len(t, c.Ports, 1)
	require.Equal(t, port, strconv.Itoa(int(c.Ports[0].ContainerPort)), "containerPort is server.listen's port")
	require.False(t, config.IsLoopback(cfg.Server.Listen), "probes and Prometheus reach the pod's IP")

	// The probes and the scrape, on the server this config builds.
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	srv, err := web.New(web.Options{Config: cfg, Store: store, Runner: &jobs.Runner{},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("exporter_up 1\n")) })})
	require.NoError(t, err)
	get := func(path string) int {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		require.NotNil(t, p)
		require.Equal(t, c.Ports[0].Name, p.HTTPGet.Port.String())
		require.Equal(t, http.StatusOK, get(p.HTTPGet.Path), "probe %s without a token", p.HTTPGet.Path)
	}
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, http.StatusUnauthorized, get("/api/v1/jobs"), "the API keeps its token")
	require.Len(t, r.serviceMonitors, 1)
	sm := r.serviceMonitors[0]
	require.Equal(t, c.Ports[0].Name, sm.Spec.Endpoints[0].Port)
	require.Equal(t, http.StatusOK, get(sm.Spec.Endpoints[0].Path), "Prometheus scrapes without the token (server.metrics_public)")
	require.Equal(t, d.Spec.Selector.MatchLabels, sm.Spec.Selector.MatchLabels)

	// SIGTERM: the drain ends before Kubernetes kills the pod.
	i := slices.Index(c.Args, "--drain-timeout")
	require.GreaterOrEqual(t, i, 0, "serve's --drain-timeout is set (its 5m default outlives any usual grace period)")
	drain, err := time.ParseDuration(c.Args[i+1])
	require.NoError(t, err)
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	require.Greater(t, grace, drain, "terminationGracePeriodSeconds must outlast --drain-timeout so interrupted runs are recorded")

	require.Len(t, r.services, 1)
	require.Equal(t, d.Spec.Selector.MatchLabels, r.services[0].Spec.Selector)
	require.Equal(t, c.Ports[0].Name, r.services[0].Spec.Ports[0].TargetPort.String())
	require.Len(t, r.pdbs, 1)
	require.Equal(t, d.Spec.Selector.MatchLabels, r.pdbs[0].Spec.Selector.MatchLabels)
	for k, v := range d.Spec.Selector.MatchLabels {
		require.Equal(t, v, d.Spec.Template.Labels[k], "the Deployment's pods carry its selector's labels")
	}
	return d, cfg, drain
}

// TestManifestsCronJob renders CronJob mode: one CronJob per job, on the
// job's schedule and time zone, never overlapping, running `exporter run`
// on the config the pod mounts; Jobs retry only exit 75.
func TestManifestsCronJob(t *testing.T) {
	t.Parallel()
	r := decode(t, helmTemplate(t, "cronjob-values.yaml"))
	checkCronJobs(t, r, 2)
	require.ElementsMatch(t, []string{"ex-exporter-orders-daily", "ex-exporter-revenue-hourly"}, []string{r.cronJobs[0].Name, r.cronJobs[1].Name})
}

// checkCronJobs checks CronJob-mode manifests against the exporter: each
// runs a job of the config its pod loads, on that job's schedule and time
// zone, and its Jobs retry exit 75 only, up to retries times.
func checkCronJobs(t *testing.T, r rendered, retries int32) {
	t.Helper()
	require.Empty(t, r.deployments)
	require.Empty(t, r.services)
	require.NotEmpty(t, r.cronJobs)
	for _, cj := range r.cronJobs {
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		require.Len(t, pod.Containers, 1)
		c := pod.Containers[0]
		restricted(t, pod, c)
		cfg := podConfig(t, r, pod, c)
		require.Equal(t, "run", c.Args[0])
		job := cfg.Job(c.Args[1])
		require.NotNil(t, job, "CronJob %s runs job %q, which the config lacks", cj.Name, c.Args[1])
		require.Equal(t, job.ScheduleSpec, cj.Spec.Schedule, cj.Name)
		require.NotNil(t, cj.Spec.TimeZone)
		require.Equal(t, job.Location.String(), *cj.Spec.TimeZone, cj.Name)
		require.Equal(t, batchv1.ForbidConcurrent, cj.Spec.ConcurrencyPolicy)
		require.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy, "podFailurePolicy needs restartPolicy Never")

		js := cj.Spec.JobTemplate.Spec
		require.Equal(t, retries, *js.BackoffLimit, "cronjob.retries")
		pfp := js.PodFailurePolicy
		require.NotNil(t, pfp)
		// What the Job does with a pod that exits with code, by the first
		// matching rule (batch/v1's semantics; no match counts).
		action := func(code int32) batchv1.PodFailurePolicyAction {
			for _, rule := range pfp.Rules {
				oe := rule.OnExitCodes
				if oe == nil {
					continue
				}
				require.Equal(t, c.Name, *oe.ContainerName)
				in := slices.Contains(oe.Values, code)
				if (oe.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
					return rule.Action
				}
			}
			return batchv1.PodFailurePolicyActionCount
		}
		require.Equal(t, batchv1.PodFailurePolicyActionCount, action(exitTempFail), "exit 75 (retryable) is retried")
		for _, code := range []int32{1, 2, 137} {
			require.Equal(t, batchv1.PodFailurePolicyActionFailJob, action(code), "exit %d is not retried", code)
		}
	}
}
