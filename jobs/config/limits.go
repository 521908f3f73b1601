package config

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dustin/go-humanize"
	"github.com/goccy/go-yaml/ast"
)

// Limits checked before a file reaches the YAML parser, whose cost and
// stack grow with what it is given: a 27 MB flat mapping overflowed its
// stack (a fatal error, not a panic: it killed the daemon on SIGHUP), a
// 50 MB flow sequence took 55 s and 12.6 GB, 8 MiB of "[a,a,a,...]" 14 s,
// and 400 KB of "-" lines 20 s. With them, no file is refused later than
// about half a second into its parse.
const (
	// MaxFileSize is the largest config file, included files each
	// counted alone; MaxTokens is usually reached first.
	MaxFileSize = 8 << 20
	// MaxDepth is the deepest nesting of mappings, lists and flow
	// brackets. A config needs about 6.
	MaxDepth = 64
	// MaxKeys is the most keys one mapping may hold: goccy/go-yaml's
	// parser takes time quadratic in it (40,000 keys: 5 s). A job has
	// about 35 keys; jobs are a list, which has no limit.
	MaxKeys = 256
	// MaxTokens is the most YAML tokens (scalars, keys, indicators,
	// brackets, commas, comments) one file may hold. The parser's time
	// grows with tokens, not bytes (some 1.5 µs each; "[a,a,a" packs
	// one a byte). 10,000 jobs of a dozen keys are 330,000 tokens;
	// split bigger configs into files with include.
	MaxTokens = 400_000
	// MaxNullCost bounds the empty values ("key:" or "-" with nothing
	// after, {a, b} in flow): the parser inserts a token for each into
	// its token list, moving every token after it, so the cost is the
	// sum over empty values of the tokens that follow (some 2.5e9 a
	// second). A config needs none; 1,500 at the top of a file of
	// 400,000 tokens are allowed.
	MaxNullCost = 600_000_000
)

// MaxProblems is how many problems a load reports: past it, decoding and
// validation stop, and the message says so. A 400 KB file of 130,000
// empty jobs took 12 s to decode and validate, for a 58 MB message.
const MaxProblems = 100

// MaxJobs is the most jobs one file may hold: each costs some 50 to
// 250 µs to decode and validate, so a file of 130,000 "{}" (400 KB,
// within MaxTokens) took 12 s. 12,000 jobs load in about 2 s; split more
// into files with include.
const MaxJobs = 12_000

// tooManyJobs reports, as a problem, a jobs list longer than MaxJobs.
func (l *loader) tooManyJobs(seq *ast.SequenceNode) bool {
	if len(seq.Values) <= MaxJobs {
		return false
	}
	l.add(nodeLine(seq), "", "%s jobs in one file, more than %s; split the jobs into files and include them",
		humanize.Comma(int64(len(seq.Values))), humanize.Comma(MaxJobs))
	l.nulled[l.file+"\x00$.jobs"] = true // reported: not also "no jobs"
	return true
}

// full reports whether the loader has found MaxProblems problems.
func (l *loader) full() bool { return len(l.problems) >= MaxProblems }

// capped returns the problems found, sorted, with a last one saying that
// loading stopped when it did.
func (l *loader) capped() Problems {
	if !l.full() {
		return l.problems
	}
	return append(l.problems[:MaxProblems:MaxProblems], Problem{File: l.main,
		Msg: fmt.Sprintf("stopped after %d problems; fix these and run exporter validate again", MaxProblems)})
}

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

// checkLimits refuses data over MaxFileSize, nested deeper than MaxDepth,
// with a mapping of more than MaxKeys keys, more than MaxTokens tokens or
// empty values costing more than MaxNullCost, before any parsing.
func checkLimits(data []byte) error {
	if len(data) > MaxFileSize {
		return errors.New(sizeMessage(int64(len(data))))
	}
	lim := scanLimits{depth: MaxDepth, keys: MaxKeys, tokens: MaxTokens, nullCost: MaxNullCost}
	if line, msg := prescan(data, lim); msg != "" {
		return &limitError{line: line, msg: msg}
	}
	return nil
}

type limitError struct {
	line int
	msg  string
}

func (e *limitError) Error() string { return e.msg }

// scanLimits are what prescan checks.
type scanLimits struct {
	depth, keys, tokens, nullCost int
}

// Flow entry states for counting empty values in flow mappings.
const (
	entryNone  = iota // nothing yet
	entryKey          // a key or a lone value
	entryColon        // "key:", waiting for its value
	entryValue        // "key: value"
)

// prescan is a cheap, conservative pre-scan of YAML: it returns the line
// where the depth first exceeds lim.depth, a mapping first holds more than
// lim.keys keys, or the tokens first exceed lim.tokens, or the last line
// when the empty values cost more than lim.nullCost; and a message, ""
// when none happens. It counts
//
//   - the indentation levels of block lines (a stack of indents),
//   - the "- " and "? " indicators that open nested block collections on
//     one line ("- - - x"), and every "key: " after the first on a line,
//   - flow brackets [ and {, closed by ] and }.
//
// Tokens are counted as the YAML lexer makes them, give or take: each
// scalar (a run of plain words is one; so is a quoted or block scalar),
// each indicator ("- ", "? ", ": ", ",", brackets) and each comment;
// an anchor, alias or tag with what follows it counts two.
//
// Empty values are those the parser fills with an implicit null: a block
// "- " or "key:" whose next line is not indented deeper (nor, for a key,
// a "- " list at its column), and a flow mapping entry without a value
// ({a, b: }). Each costs the tokens after it.
//
// It may count more than the parser nests, never much less: a bracket
// inside what looks like a quoted string, a comment or a block scalar
// still opens a level, and a closing one there cannot close below the
// level the string started at, so a quote the scanner misreads cannot
// hide nesting from it.
func prescan(data []byte, lim scanLimits) (int, string) {
	max, maxKeys := lim.depth, lim.keys
	deep := func(line int) (int, string) {
		return line, fmt.Sprintf("config nests deeper than %d levels of mappings, lists and brackets", max)
	}
	wide := func(line int) (int, string) {
		return line, fmt.Sprintf("a mapping holds more than %d keys; jobs belong in the jobs list", maxKeys)
	}
	many := func(line int) (int, string) {
		return line, fmt.Sprintf("config holds more than %s YAML tokens (keys, values, list items); split the jobs into files and include them",
			humanize.Comma(int64(lim.tokens)))
	}
	flowKeys := make([]int, max+2)  // keys of the open flow mapping at each level
	flowReal := make([]bool, max+2) // whether the flow level opened where a value begins, in a real one (not a{b} or a{{b}})
	flowMap := make([]bool, max+2)  // whether the flow level is a real mapping
	flowEntry := make([]int, max+2) // entry* state of the flow level
	var (
		indents   []int // block indentation stack
		blockKeys []int // keys seen at each indentation level
		flow      int   // open flow brackets
		line      = 1
		quote     byte // ' or " while inside a quoted scalar
		floor     int  // flow level a quote, comment or block scalar began at
		scalarInd = -1 // indent of a block scalar's parent line; -1: none

		tokens    int  // counted so far
		nulls     int  // empty values so far
		nullsAt   int  // sum of the tokens before each empty value
		dangling  = -1 // column of a "- " or "key:" left without a value by the line before; -1: none
		danglingK bool // that one was a key
	)
	null := func() { nulls++; nullsAt += tokens }
	// value marks a value starting at the current flow level.
	value := func() {
		switch flowEntry[flow] {
		case entryNone:
			flowEntry[flow] = entryKey
		case entryColon:
			flowEntry[flow] = entryValue
		}
	}
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
			if dangling >= 0 {
				list := data[i] == '-' && (i+1 >= n || data[i+1] == ' ' || data[i+1] == '\n' || data[i+1] == '\r')
				if ind < dangling || (ind == dangling && !(danglingK && list)) {
					null()
				}
				dangling = -1
			}
		}
		blockLine := quote == 0 && !inScalar && !blank && flow == 0
		if inScalar || quote != 0 {
			floor = flow
		}
		keys := 0
		valueStart := true // where a value may begin: quotes and "- " count there
		blockScalar := false
		lineDangling, lineDanglingK := -1, false // an indicator this line left without a value
		tokenCol := ind                          // column of the latest scalar
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
				// A comment: one token; its opening brackets count, nothing else.
				tokens++
				floor = flow
				for ; i < n && data[i] != '\n'; i++ {
					if data[i] == '[' || data[i] == '{' {
						flow++
					}
				}
			case c == ' ' || c == '\t' || c == '\r':
			case (c == '"' || c == '\'') && valueStart:
				tokens++
				value()
				lineDangling, tokenCol = -1, ind+i-1-lineStart
				quote = c
				floor = flow
			case c == '[' || c == '{':
				tokens++
				value()
				lineDangling = -1
				flow++
				if flow < len(flowKeys) {
					real := valueStart && (flow == 1 || flowReal[flow-1])
					flowKeys[flow], flowReal[flow], flowMap[flow], flowEntry[flow] = 0, real, real && c == '{', entryNone
				}
				valueStart = true
			case c == ']' || c == '}':
				tokens++
				if flow > 0 {
					if flow < len(flowKeys) && flowMap[flow] && (flowEntry[flow] == entryKey || flowEntry[flow] == entryColon) {
						null()
					}
					flow--
				}
				valueStart = false
			case c == ',' && flow > 0:
				tokens++
				if flow < len(flowKeys) {
					if flowMap[flow] && (flowEntry[flow] == entryKey || flowEntry[flow] == entryColon) {
						null()
					}
					flowEntry[flow] = entryNone
				}
				valueStart = true
			case (c == '-' || c == '?') && valueStart && flow == 0 && (i >= n || data[i] == ' ' || data[i] == '\n' || data[i] == '\r'):
				extra++
				tokens++
				if c == '-' {
					lineDangling, lineDanglingK = ind+i-1-lineStart, false
				}
			case c == ':' && flow > 0:
				tokens++
				valueStart = true
				if flow < len(flowKeys) {
					if flowEntry[flow] != entryValue {
						flowEntry[flow] = entryColon
					}
					if flowKeys[flow]++; flowKeys[flow] > maxKeys {
						return wide(line)
					}
				}
			case c == ':' && (i >= n || data[i] == ' ' || data[i] == '\n' || data[i] == '\r'):
				keys++
				tokens++
				valueStart = true
				lineDangling, lineDanglingK = tokenCol, true
				if keys == 1 && extra == 0 && blockLine {
					if blockKeys[len(blockKeys)-1]++; blockKeys[len(blockKeys)-1] > maxKeys {
						return wide(line)
					}
				}
			case (c == '|' || c == '>') && valueStart && flow == 0:
				tokens++
				lineDangling = -1
				blockScalar = true
				valueStart = false
			default:
				if valueStart {
					// A scalar, an anchor, an alias or a tag begins.
					tokens++
					if c == '&' || c == '*' || c == '!' {
						tokens++
					}
					value()
					lineDangling, tokenCol = -1, ind+i-1-lineStart
				}
				blockScalar = false
				valueStart = false
			}
			if len(indents)+extra+max0(keys-1)+flow > max {
				return deep(line)
			}
			if tokens > lim.tokens {
				return many(line)
			}
		}
		if blockScalar && quote == 0 {
			scalarInd = ind
		}
		if blockLine && quote == 0 && flow == 0 && lineDangling >= 0 {
			dangling, danglingK = lineDangling, lineDanglingK
		}
		if i < n { // the newline
			i++
			line++
		}
	}
	// Each empty value moved the tokens after it.
	if cost := nulls*tokens - nullsAt; cost > lim.nullCost {
		return line, fmt.Sprintf("config holds %s empty values (a key or \"-\" with nothing after it, or {a, b} in brackets) among %s tokens, too many for the YAML parser; write null or \"\" where a value is meant to be empty",
			humanize.Comma(int64(nulls)), humanize.Comma(int64(tokens)))
	}
	return line, ""
}

func max0(x int) int {
	if x < 0 {
		return 0
	}
	return x
}
