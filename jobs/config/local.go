package config

import (
	"io/fs"
	"reflect"
	"strconv"
)

// DefaultFileMode is the mode of exported local files when local.file_mode
// is not set: the group may read them, others may not.
const DefaultFileMode fs.FileMode = 0o640

// FileMode is local.file_mode as written: an octal mode in a string.
// The checker refuses a number, whose value YAML readers disagree on.
type FileMode string

var fileModeType = reflect.TypeFor[FileMode]()

// fileMode validates local.file_mode; empty is DefaultFileMode.
func (l *loader) fileMode(m FileMode) fs.FileMode {
	bad := func(format string, args ...any) fs.FileMode {
		l.addAt("$.local.file_mode", "", format, args...)
		return DefaultFileMode
	}
	if m == "" {
		return DefaultFileMode
	}
	n, err := strconv.ParseUint(string(m), 8, 32)
	switch {
	case err != nil:
		return bad("local.file_mode %q is not an octal mode; write one such as \"0640\" (owner rw, group r)", m)
	case n&^uint64(fs.ModePerm) != 0:
		return bad("local.file_mode %q has bits beyond the permissions (0777); write one such as \"0640\"", m)
	case n&0o600 != 0o600:
		return bad("local.file_mode %q must let the owner read and write (0600): the exporter replaces and removes its files; e.g. \"0640\" lets the group read", m)
	}
	return fs.FileMode(n)
}
