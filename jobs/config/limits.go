package config

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dustin/go-humanize"
)

// Limits checked before a file reaches the YAML parser, whose cost and
// stack grow with what it is given: a 27 MB flat mapping overflowed its
// stack (a fatal error, not a panic: it killed the daemon on SIGHUP), and
// a 50 MB flow sequence took 55 s and 12.6 GB.
const (
	// MaxFileSize is the largest config file, included files each
	// counted alone. 8 MiB is some 50,000 jobs; split bigger configs
	// with include.
	MaxFileSize = 8 << 20
	// MaxDepth is the deepest nesting of mappings, lists and flow
	// brackets. A config needs about 6.
	MaxDepth = 64
	// MaxKeys is the most keys one mapping may hold: goccy/go-yaml's
	// parser takes time quadratic in it (40,000 keys: 5 s). A job has
	// about 35 keys; jobs are a list, which has no limit.
	MaxKeys = 256
)

// readConfig reads a config file, at most one byte over MaxFileSize: a
// huge file is refused by checkLimits without being read whole.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > MaxFileSize {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return nil, Problems{{File: path, Msg: sizeMessage(st.Size())}}
		}
	}
	return data, nil
}

func sizeMessage(size int64) string {
	return fmt.Sprintf("config is %s (%d bytes), over the limit of %s; split the jobs into files and include them",
		humanize.IBytes(uint64(size)), size, humanize.IBytes(MaxFileSize))
}

// checkLimits refuses data over MaxFileSize or nested deeper than
// MaxDepth, before any parsing.
func checkLimits(data []byte) error {
	if len(data) > MaxFileSize {
		return errors.New(sizeMessage(int64(len(data))))
	}
	if line, msg := scanDepth(data, MaxDepth, MaxKeys); msg != "" {
		return &limitError{line: line, msg: msg}
	}
	return nil
}

type limitError struct {
	line int
	msg  string
}

func (e *limitError) Error() string { return e.msg }

// scanDepth is a cheap, conservative pre-scan of YAML nesting: it returns
// the line where the depth first exceeds max, or a mapping first holds
// more than maxKeys keys, and a message; "" when neither happens. It counts
//
//   - the indentation levels of block lines (a stack of indents),
//   - the "- " and "? " indicators that open nested block collections on
//     one line ("- - - x"), and every "key: " after the first on a line,
//   - flow brackets [ and {, closed by ] and }.
//
// It may count more than the parser nests, never much less: a bracket
// inside what looks like a quoted string, a comment or a block scalar
// still opens a level, and a closing one there cannot close below the
// level the string started at, so a quote the scanner misreads cannot
// hide nesting from it.
func scanDepth(data []byte, max, maxKeys int) (int, string) {
	deep := func(line int) (int, string) {
		return line, fmt.Sprintf("config nests deeper than %d levels of mappings, lists and brackets", max)
	}
	wide := func(line int) (int, string) {
		return line, fmt.Sprintf("a mapping holds more than %d keys; jobs belong in the jobs list", maxKeys)
	}
	flowKeys := make([]int, max+2) // keys of the open flow mapping at each level
	var (
		indents   []int // block indentation stack
		blockKeys []int // keys seen at each indentation level
		flow      int   // open flow brackets
		line      = 1
		quote     byte // ' or " while inside a quoted scalar
		floor     int  // flow level a quote, comment or block scalar began at
		scalarInd = -1 // indent of a block scalar's parent line; -1: none
	)
	i, n := 0, len(data)
	for i < n {
		// Start of a line.
		ind := 0
		for i < n && data[i] == ' ' {
			ind++
			i++
		}
		lineStart := i
		blank := i >= n || data[i] == '\n' || data[i] == '\r' || data[i] == '#'
		inScalar := scalarInd >= 0 && (blank || ind > scalarInd)
		if scalarInd >= 0 && !inScalar {
			scalarInd = -1
		}
		extra := 0 // same-line block levels
		if quote == 0 && !inScalar && !blank && flow == 0 {
			for len(indents) > 0 && indents[len(indents)-1] > ind {
				indents, blockKeys = indents[:len(indents)-1], blockKeys[:len(blockKeys)-1]
			}
			if len(indents) == 0 || indents[len(indents)-1] < ind {
				indents, blockKeys = append(indents, ind), append(blockKeys, 0)
			}
		}
		blockLine := quote == 0 && !inScalar && !blank && flow == 0
		if inScalar || quote != 0 {
			floor = flow
		}
		keys := 0
		valueStart := true // where a value may begin: quotes and "- " count there
		blockScalar := false
		for i < n && data[i] != '\n' {
			c := data[i]
			i++
			switch {
			case quote != 0:
				switch {
				case c == '\\' && quote == '"':
					i++
				case c == quote:
					if quote == '\'' && i < n && data[i] == '\'' {
						i++
					} else {
						quote = 0
						valueStart = false
					}
				case c == '[' || c == '{':
					flow++
				case (c == ']' || c == '}') && flow > floor:
					flow--
				}
			case inScalar:
				switch {
				case c == '[' || c == '{':
					flow++
				case (c == ']' || c == '}') && flow > floor:
					flow--
				}
			case blockScalar && (c == '-' || c == '+' || c == ' ' || c == '\t' || c == '\r' || (c >= '0' && c <= '9')):
				// "|-", ">+2": still the block scalar header.
			case c == '#' && (i-1 == lineStart || data[i-2] == ' ' || data[i-2] == '\t'):
				// A comment: its opening brackets count, nothing else.
				floor = flow
				for ; i < n && data[i] != '\n'; i++ {
					if data[i] == '[' || data[i] == '{' {
						flow++
					}
				}
			case c == ' ' || c == '\t' || c == '\r':
			case (c == '"' || c == '\'') && valueStart:
				quote = c
				floor = flow
			case c == '[' || c == '{':
				flow++
				if flow < len(flowKeys) {
					flowKeys[flow] = 0
				}
				valueStart = true
			case c == ']' || c == '}':
				if flow > 0 {
					flow--
				}
				valueStart = false
			case c == ',' && flow > 0:
				valueStart = true
			case (c == '-' || c == '?') && valueStart && flow == 0 && (i >= n || data[i] == ' ' || data[i] == '\n' || data[i] == '\r'):
				extra++
			case c == ':' && flow > 0:
				valueStart = true
				if flow < len(flowKeys) {
					if flowKeys[flow]++; flowKeys[flow] > maxKeys {
						return wide(line)
					}
				}
			case c == ':' && (i >= n || data[i] == ' ' || data[i] == '\n' || data[i] == '\r'):
				keys++
				valueStart = true
				if keys == 1 && extra == 0 && blockLine {
					if blockKeys[len(blockKeys)-1]++; blockKeys[len(blockKeys)-1] > maxKeys {
						return wide(line)
					}
				}
			case (c == '|' || c == '>') && valueStart && flow == 0:
				blockScalar = true
				valueStart = false
			default:
				blockScalar = false
				valueStart = false
			}
			if len(indents)+extra+max0(keys-1)+flow > max {
				return deep(line)
			}
		}
		if blockScalar && quote == 0 {
			scalarInd = ind
		}
		if i < n { // the newline
			i++
			line++
		}
	}
	return line, ""
}
func max0(x int) int {
	if x < 0 {
		return 0
	}
	return x
}
