package publish

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// sidecar is a small file Commit writes next to the manifest.
type sidecar struct {
	name, contentType string
	data              []byte
}

// Sidecar gives the content of a file named in Options.Sidecars (a plain
// name, written in the run's directory). Commit writes it after the data
// files and before _manifest.json and _SUCCESS, so a reader that sees
// the markers finds it too; Abort removes it if Commit wrote it, and
// Begin (or, with Options.Hold, Commit) withdraws an earlier run's copy
// with the markers. Calling it again for the same name replaces the
// content.
func (s *Set) Sidecar(name, contentType string, data []byte) error {
	if !slices.Contains(s.opts.Sidecars, name) {
		return fmt.Errorf("publish %s: %s is not one of the run's sidecar files (Options.Sidecars)", s.opts.Dest, name)
	}
	for i, sc := range s.sidecars {
		if sc.name == name {
			s.sidecars[i] = sidecar{name, contentType, data}
			return nil
		}
	}
	s.sidecars = append(s.sidecars, sidecar{name, contentType, data})
	return nil
}

// checkSidecarNames refuses sidecar names that are not plain file names
// or that collide with the markers.
func checkSidecarNames(o Options) error {
	for _, name := range o.Sidecars {
		if name == "" || strings.Contains(name, "/") || name == ManifestName || name == SuccessName {
			return fmt.Errorf("publish %s: sidecar file name %q must be a plain name other than %s and %s", o.Dest, name, ManifestName, SuccessName)
		}
	}
	return nil
}

// writeSidecars writes the sidecars given, noting each for Abort.
func (s *Set) writeSidecars(ctx context.Context) error {
	md := s.opts.WriteOptions.Metadata
	for _, sc := range s.sidecars {
		uri := s.dir + sc.name
		s.sidecarsWritten = append(s.sidecarsWritten, uri)
		if err := s.put(ctx, uri, sc.contentType, sc.data, md); err != nil {
			return err
		}
	}
	return nil
}
