package jobs

import (
	"errors"
	"strings"

	"github.com/lookerexport/exporter/lookerapi"
)

// errorText is a failed run's recorded error: err's text, cause first.
// Wrapping adds context in front ("read result: read looker csv body at
// row 1235: <Looker's error>"), which pushes the cause out of views that
// truncate (status page, history, Slack). When err wraps a
// *lookerapi.Error, whose text already reads cause first and names the
// source and call, that text leads and the context follows in
// parentheses. err itself, and so errors.Is/As, is unchanged.
func errorText(err error) string {
	msg := err.Error()
	var le *lookerapi.Error
	if !errors.As(err, &le) {
		return msg
	}
	inner := le.Error()
	i := strings.LastIndex(msg, inner)
	if i <= 0 {
		return msg
	}
	context := strings.TrimSuffix(strings.TrimSpace(msg[:i]), ":")
	return inner + " (" + context + ")" + msg[i+len(inner):]
}
