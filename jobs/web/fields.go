package web

import (
	"bytes"
	"encoding/json"
	"iter"
)

// newFieldDecoder yields the top-level keys of a JSON object in order,
// with their values as compact JSON (strings unquoted).
func newFieldDecoder(js string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		dec := json.NewDecoder(bytes.NewReader([]byte(js)))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			yield("fields", js)
			return
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return
			}
			k, _ := t.(string)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return
			}
			v := string(raw)
			var s string
			if json.Unmarshal(raw, &s) == nil {
				v = s
			}
			if !yield(k, v) {
				return
			}
		}
	}
}
