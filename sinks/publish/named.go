package publish

import (
	"fmt"
	"strings"
)

// named is the next file of a Named set.
type named struct{ uri, contentType string }

// Name sets the URI of the next data file of a Named set (see
// Options.Named), and its content type ("" keeps Options.WriteOptions').
// The URI must lie directly in the Set's directory, where the manifest
// goes, and must not name a file of this run already, the manifest or
// _SUCCESS.
func (s *Set) Name(uri, contentType string) error {
	if !s.opts.Named {
		return fmt.Errorf("publish %s: files are named only in a Named set", s.opts.Dest)
	}
	rest, ok := strings.CutPrefix(uri, s.dir)
	switch {
	case !ok || rest == "" || strings.Contains(rest, "/"):
		return fmt.Errorf("publish %s: file %s is not directly in the run's directory %s, where its manifest goes", s.opts.Dest, uri, s.dir)
	case rest == ManifestName || rest == SuccessName:
		return fmt.Errorf("publish %s: a data file cannot be named %s", s.opts.Dest, rest)
	}
	for _, f := range s.files {
		if f.URI == uri {
			return fmt.Errorf("publish %s: %s is already a file of this run; two files need two names", s.opts.Dest, uri)
		}
	}
	s.next = named{uri: uri, contentType: contentType}
	return nil
}
