package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultLookerINISection is the looker.ini section read when
// looker.ini_section is not set, as in the official SDKs.
const DefaultLookerINISection = "Looker"

// lookerINIKeys are the looker.ini keys read; others (api_version,
// redirect_uri, ...) are ignored, as the SDKs ignore what they do not use.
var lookerINIKeys = []string{"base_url", "client_id", "client_secret", "verify_ssl", "timeout"}

// readLookerINI reads one section of a looker.ini file the way the
// official SDKs do (Python's configparser): [Section] headers, key=value
// or key: value, keys case-insensitive, # and ; comment lines, values
// trimmed and unquoted. Errors name the file and line but never the
// line's text, which may hold the secret.
func readLookerINI(file, section string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var sections []string
	var cur string
	out := map[string]string{}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", line[0] == '#', line[0] == ';':
			continue
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s:%d: a section header is [Name]", file, n)
			}
			cur = strings.TrimSpace(line[1 : len(line)-1])
			sections = append(sections, cur)
			found = found || cur == section
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, fmt.Errorf("%s:%d: expected key=value", file, n)
		}
		if cur == "" {
			return nil, fmt.Errorf("%s:%d: key outside any [section]", file, n)
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		if cur != section || !slices.Contains(lookerINIKeys, key) {
			continue
		}
		v := strings.TrimSpace(line[i+1:])
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if !found {
		return nil, fmt.Errorf("%s has no section [%s]; its sections are %s (choose one with looker.ini_section)", file, section, strings.Join(sections, ", "))
	}
	return out, nil
}

// parseSDKBool reads a boolean as the SDKs do: true, t, yes, y, 1 and
// their negations, in any case.
func parseSDKBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y", "t", "on":
		return true, nil
	case "no", "n", "f", "off":
		return false, nil
	}
	return strconv.ParseBool(strings.ToLower(s))
}

// lookerSetting is a looker: key left out of the config file: the
// LOOKERSDK_* environment variable, else the looker.ini section's key.
func (l *loader) lookerSetting(ini map[string]string, key string) string {
	return firstNonEmpty(l.getenv("LOOKERSDK_"+strings.ToUpper(key)), ini[key])
}

// lookerINI reads the looker.ini section the config names (or
// Options.LookerINI), or nil.
func (l *loader) lookerINI(raw rawLooker) map[string]string {
	file := firstNonEmpty(l.lookerINIPath, raw.INIFile)
	if file == "" {
		if raw.INISection != "" {
			l.addAt("$.looker.ini_section", "", "looker.ini_section is set but no looker.ini_file (or --looker-ini) names the file")
		}
		return nil
	}
	section := firstNonEmpty(raw.INISection, DefaultLookerINISection)
	ini, err := readLookerINI(file, section)
	if err != nil {
		l.addAt("$.looker.ini_file", "", "looker.ini_file: %v", err)
	}
	return ini
}

// lookerSecretFile reads looker.client_secret_file: the file's content,
// its trailing newline trimmed.
func (l *loader) lookerSecretFile(raw rawLooker) Secret {
	if raw.ClientSecretFile == "" {
		return ""
	}
	if raw.ClientSecret != "" {
		l.addAt("$.looker.client_secret_file", "", "looker.client_secret and looker.client_secret_file are both set; keep one")
		return ""
	}
	b, err := os.ReadFile(raw.ClientSecretFile)
	if err != nil {
		l.addAt("$.looker.client_secret_file", "", "looker.client_secret_file: %v", err)
		return ""
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		l.addAt("$.looker.client_secret_file", "", "looker.client_secret_file %s is empty; put the API client secret in it", raw.ClientSecretFile)
	}
	return Secret(s)
}
