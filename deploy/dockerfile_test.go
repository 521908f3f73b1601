package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/deploy/shipbuild"
)

// dockerfile is the parsed ../Dockerfile: its instructions with line
// continuations joined, and ARG defaults.
type dockerfile struct {
	instructions []string // "RUN CGO_ENABLED=0 go build ...", one a line
	args         map[string]string
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	d := dockerfile{args: map[string]string{}}
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		in := cur.String()
		cur.Reset()
		d.instructions = append(d.instructions, in)
		if arg, ok := strings.CutPrefix(in, "ARG "); ok {
			name, def, _ := strings.Cut(arg, "=")
			d.args[name] = def
		}
	}
	require.NoError(t, sc.Err())
	return d
}

// with returns the instructions starting with keyword (e.g. "RUN ").
func (d dockerfile) with(keyword string) []string {
	var out []string
	for _, in := range d.instructions {
		if rest, ok := strings.CutPrefix(in, keyword); ok {
			out = append(out, rest)
		}
	}
	return out
}

// shellWords splits a RUN command as sh would for the simple commands a
// Dockerfile holds: words, "double" and 'single' quotes, ${VAR} and $VAR.
func shellWords(t *testing.T, cmd string, vars map[string]string) []string {
	t.Helper()
	expand := func(s string) string {
		return os.Expand(s, func(k string) string {
			v, ok := vars[k]
			require.True(t, ok, "the Dockerfile's RUN uses $%s, which no ARG declares", k)
			return v
		})
	}
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(cmd); i++ {
		switch c := cmd[i]; {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '"' || c == '\'':
			end := strings.IndexByte(cmd[i+1:], c)
			require.GreaterOrEqual(t, end, 0, "unterminated quote in %q", cmd)
			s := cmd[i+1 : i+1+end]
			if c == '"' {
				s = expand(s)
			}
			w.WriteString(s)
			inWord = true
			i += end + 1
		default:
			require.NotContains(t, "|&;<>`()\\", string(c), "RUN %q is not a simple command; teach shellWords or simplify it", cmd)
			j := i
			for j < len(cmd) && !strings.ContainsRune(" \t\"'", rune(cmd[j])) {
				j++
			}
			w.WriteString(expand(cmd[i:j]))
			inWord = true
			i = j - 1
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// goBuild finds the Dockerfile's go build command: its environment
// assignments and go's arguments.
func goBuild(t *testing.T, d dockerfile, vars map[string]string) (env, args []string) {
	t.Helper()
	var found [][]string
	for _, run := range d.with("RUN ") {
		words := shellWords(t, run, vars)
		for len(words) > 0 && strings.HasPrefix(words[0], "--") { // --mount=...
			words = words[1:]
		}
		i := slices.IndexFunc(words, func(w string) bool { return !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(w) })
		if i < 0 || words[i] != "go" {
			continue
		}
		require.Equal(t, "build", words[i+1], "the Dockerfile runs `go %s`: the image builds with go build alone, which fetches only the modules the binary imports (`go mod download` would fetch the tests' too)", strings.Join(words[i+1:], " "))
		found = append(found, words)
		env, args = words[:i], words[i+1:]
	}
	require.Len(t, found, 1, "want one go build in the Dockerfile")
	return env, args
}

// TestDockerfileBuild builds the binary with the Dockerfile's own go build
// line (its flags and environment, CGO_ENABLED=0 included; docker is not
// available here) and runs it: `exporter version` and `--version` show the
// VERSION and REVISION build arguments; without REVISION, the git revision
// Go stamped from the checkout ("(modified" when it has uncommitted
// changes); and the commands the image runs (serve, healthcheck) exist.
// The first build compiles everything with -trimpath: minutes on a cold
// cache.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the exporter from scratch with -trimpath (a minute or two); run without -short")
	}
	t.Parallel()
	d := parseDockerfile(t, "../Dockerfile")
	require.Contains(t, d.args, "VERSION")
	require.Contains(t, d.args, "REVISION")
	bin := filepath.Join(t.TempDir(), "exporter")
	build := func(version, revision string) string {
		t.Helper()
		vars := map[string]string{}
		for k, v := range d.args {
			vars[k] = v
		}
		vars["VERSION"], vars["REVISION"] = version, revision
		env, args := goBuild(t, d, vars)
		require.Contains(t, env, "CGO_ENABLED=0", "the image is distroless static: no cgo")
		o := slices.Index(args, "-o")
		require.GreaterOrEqual(t, o, 0, "go build -o names the binary the image copies")
		require.Equal(t, "./cmd/exporter", args[len(args)-1])
		require.Contains(t, strings.Join(d.with("COPY "), "\n"), "--from=build "+args[o+1]+" /usr/local/bin/exporter")
		args[o+1] = bin
		cmd := exec.Command("go", args...)
		cmd.Dir = ".." // WORKDIR /src holds the repository (COPY . .)
		// GOFLAGS as in the golang image: a -buildvcs=false in the
		// developer's go env would hide the stamped revision.
		cmd.Env = append(os.Environ(), append(env, "GOFLAGS=-buildvcs=auto")...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s: %s", strings.Join(args, " "), out)
		out, err = exec.Command(bin, "version").CombinedOutput()
		require.NoError(t, err, "%s", out)
		flag, err := exec.Command(bin, "--version").CombinedOutput()
		require.NoError(t, err, "%s", flag)
		require.Equal(t, string(out), string(flag))
		return string(out)
	}

	out := build("v9.9.9-dockerfile-test", "0123456789abcdef0123456789abcdef01234567")
	require.Regexp(t, `^exporter v9\.9\.9-dockerfile-test\nrevision: 0123456789abcdef0123456789abcdef01234567( \(modified[^\n]*)?\ngo: go1\.`, out,
		"the VERSION and REVISION build arguments reach `exporter version`")

	// The image's binary leaves out gRPC's xDS and Envoy (the GCS client's
	// DirectPath, which the exporter never uses): 20 MB of binary and 13
	// MiB of RSS at every start (issue 14's start-up cost).
	// A stripped binary still names its functions (the runtime's pclntab).
	image, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.True(t, bytes.Contains(image, []byte("cloud.google.com/go/storage.")), "the GCS client is linked")
	require.False(t, bytes.Contains(image, []byte("google.golang.org/grpc/xds")), "build with -tags disable_grpc_modules")
	require.False(t, bytes.Contains(image, []byte("github.com/envoyproxy")), "build with -tags disable_grpc_modules")

	// The image's ENTRYPOINT and CMD, and its HEALTHCHECK, name commands
	// and flags this binary has.
	entry := jsonArray(t, d.with("ENTRYPOINT ")[0])
	require.Equal(t, []string{"/usr/local/bin/exporter"}, entry)
	cmd := jsonArray(t, d.with("CMD ")[len(d.with("CMD "))-1])
	require.Equal(t, "serve", cmd[0])
	hc := d.with("HEALTHCHECK ")
	require.Len(t, hc, 1)
	_, hcCmd, ok := strings.Cut(hc[0], "CMD ")
	require.True(t, ok)
	probe := jsonArray(t, hcCmd)
	require.Equal(t, entry[0], probe[0])
	require.Equal(t, "healthcheck", probe[1])
	for _, argv := range [][]string{cmd, probe[1:]} {
		help, err := exec.Command(bin, append(argv, "--help")...).CombinedOutput()
		require.NoError(t, err, "%s --help: %s", argv, help)
		for _, a := range argv {
			if flag, ok := strings.CutPrefix(a, "--"); ok {
				require.Contains(t, string(help), "--"+flag+" ", "`exporter %s` has no flag --%s", argv[0], flag)
			}
		}
	}

	if st, err := os.Stat("../.git"); err != nil || !st.IsDir() {
		// Go stamps vcs.revision only where .git is a directory: not in a
		// git worktree (.git is a file there). CI's clone checks it.
		t.Skip("the stamped revision is checked only in a clone whose .git is a directory (git clone, as CI does), not in a git worktree")
	}
	head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	require.NoError(t, err, "git is needed to check the revision Go stamps")
	status, err := exec.Command("git", "-C", "..", "status", "--porcelain").Output()
	require.NoError(t, err)
	want := "revision: " + strings.TrimSpace(string(head))
	if len(status) > 0 {
		want += " (modified"
	}
	out = build("v9.9.9-dockerfile-test", "")
	require.Contains(t, out, "exporter v9.9.9-dockerfile-test\n"+want, out)
}

// jsonArray decodes an exec-form instruction (["a", "b"]).
func jsonArray(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	require.NoError(t, json.Unmarshal([]byte(s), &out), "want the exec form [\"...\"]: %s", s)
	return out
}

// TestDockerBuildFetchesNoTestDependency: the binary go build makes
// imports none of the tests' modules, so the image build downloads none.
func TestDockerBuildFetchesNoTestDependency(t *testing.T) {
	t.Parallel()
	d := parseDockerfile(t, "../Dockerfile")
	for _, run := range d.with("RUN ") {
		require.NotContains(t, run, "go mod download", "go mod download fetches every module in go.sum, the tests' too")
	}
	list := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "./cmd/exporter")
	list.Dir = ".."
	out, err := list.Output()
	require.NoError(t, err)
	mods := strings.Fields(string(out))
	require.Contains(t, mods, "github.com/lookerexport/exporter")
	for _, testOnly := range []string{"github.com/chromedp/chromedp", "github.com/fsouza/fake-gcs-server", "github.com/stretchr/testify", "go.uber.org/goleak", "k8s.io/api", "sigs.k8s.io/yaml"} {
		require.NotContains(t, mods, testOnly, "cmd/exporter imports %s: the image build would download it", testOnly)
	}
}

// TestShipBuildIsTheDockerfiles: the benchmarks build the exporter as the
// image does (cmd/internal/shipbuild), so that their figures are the
// shipped binary's.
func TestShipBuildIsTheDockerfiles(t *testing.T) {
	t.Parallel()
	d := parseDockerfile(t, "../Dockerfile")
	env, args := goBuild(t, d, map[string]string{"VERSION": "v1", "REVISION": "r"})
	require.Equal(t, shipbuild.Env, env)
	var flags []string
	for i := 1; i < len(args)-1; i++ { // after "build", before the package
		switch {
		case args[i] == "-o":
			i++
		case args[i] == "-ldflags":
			var kept []string
			words := strings.Fields(args[i+1])
			for j := 0; j < len(words); j++ {
				if words[j] == "-X" {
					j++ // the version stamp
					continue
				}
				kept = append(kept, words[j])
			}
			flags = append(flags, "-ldflags", strings.Join(kept, " "))
			i++
		default:
			flags = append(flags, args[i])
		}
	}
	require.Equal(t, shipbuild.Flags, flags, "the Dockerfile's go build flags, without -o and the -X stamps")
}
