package lookertest

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Looker filter expressions, evaluated row by row. Source for every form:
// https://cloud.google.com/looker/docs/filter-expressions (sections
// String, Number, Date and time, Yes/No). Forms the sandbox does not model
// are refused with 400 naming the expression, so a test never passes on a
// filter the sandbox silently ignored.

// fieldFilter is one entry of Query.filters: a field and its expression.
type fieldFilter struct {
	f    *fieldDef
	expr string
}

// filterEnv is what evaluating a filter depends on besides the row: the
// query zone (date filters on converted time fields are read in it,
// using-time-zone-settings; NOTES §13.1), the server's clock (relative
// dates) and how "N days" counts (see Options.RelativeDatesComplete).
type filterEnv struct {
	loc      *time.Location
	now      time.Time
	complete bool
}

// rowPred reports whether a row passes a filter.
type rowPred func(row int) bool

// compileFilter compiles expr on field f.
func compileFilter(ff fieldFilter, env filterEnv) (rowPred, error) {
	f, expr := ff.f, strings.TrimSpace(ff.expr)
	if expr == "" {
		return nil, nil // an empty filter value filters nothing (the Explore UI's "is any value")
	}
	value := func(row int) (string, bool) {
		v, null := f.appendValue(nil, row, env.loc)
		return string(v), null
	}
	switch {
	case f.timeframe():
		loc := env.loc
		if !f.convertTZ {
			loc = time.UTC // convert_tz: no values are compared as stored
		}
		return dateFilter(f, expr, filterEnv{loc: loc, now: env.now, complete: env.complete})
	case f.numeric:
		return numberFilter(expr, value)
	case f.Type == "yesno":
		// Yes/No filters take "Yes" or "No" (filter-expressions, Yes/No).
		want := strings.ToLower(expr)
		if want != "yes" && want != "no" {
			return nil, fmt.Errorf("a yesno filter takes Yes or No, not %q", expr)
		}
		return func(row int) bool { v, _ := value(row); return strings.ToLower(v) == want }, nil
	default:
		return stringFilter(expr, value)
	}
}

// ---- strings ----

// stringTerm is one comma-separated term of a string filter.
type stringTerm struct {
	neg     bool
	null    bool // NULL
	empty   bool // EMPTY: "" or null
	pattern *regexp.Regexp
}

// stringFilter: FOO, FOO,BAR, %FOO%, FOO%, F%OD, _UF, EMPTY, NULL, -FOO,
// -%FOO%, -EMPTY, -NULL; escapes ^" ^% ^_ ^- ^^ and "\," for a comma.
// Positive terms are OR-ed, negative terms AND-ed (FOO%,-FOOD: "starts
// with FOO but is not FOOD"). Matching is case-sensitive, LookML's
// case_sensitive default for dialects that support it.
func stringFilter(expr string, value func(int) (string, bool)) (rowPred, error) {
	var pos, neg []stringTerm
	for _, raw := range splitUnescaped(expr) {
		t, err := parseStringTerm(raw)
		if err != nil {
			return nil, err
		}
		if t.neg {
			neg = append(neg, t)
		} else {
			pos = append(pos, t)
		}
	}
	match := func(t stringTerm, v string, null bool) bool {
		switch {
		case t.null:
			return null
		case t.empty:
			return null || v == ""
		}
		return !null && t.pattern.MatchString(v)
	}
	return func(row int) bool {
		v, null := value(row)
		for _, t := range neg {
			if match(t, v, null) {
				return false
			}
		}
		if len(pos) == 0 {
			return true
		}
		for _, t := range pos {
			if match(t, v, null) {
				return true
			}
		}
		return false
	}, nil
}

// splitUnescaped splits a string filter on commas not escaped by "\" or
// "^" (a "\," is a literal comma).
func splitUnescaped(expr string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if (c == '\\' || c == '^') && i+1 < len(expr) && expr[i+1] == ',' {
			cur.WriteString("^,")
			i++
			continue
		}
		if c == '^' && i+1 < len(expr) {
			cur.WriteByte(c)
			cur.WriteByte(expr[i+1])
			i++
			continue
		}
		if c == ',' {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

func parseStringTerm(raw string) (stringTerm, error) {
	s := strings.TrimSpace(raw)
	t := stringTerm{}
	if strings.HasPrefix(s, "-") {
		t.neg, s = true, s[1:]
	}
	switch s {
	case "NULL":
		t.null = true
		return t, nil
	case "EMPTY":
		t.empty = true
		return t, nil
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '^' && i+1 < len(s):
			re.WriteString(regexp.QuoteMeta(string(s[i+1])))
			i++
		case c == '%':
			re.WriteString("(?s:.*)")
		case c == '_':
			re.WriteString("(?s:.)")
		case c == '"':
			return t, fmt.Errorf("string filter %q: a double quote must be escaped as ^\"", raw)
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	p, err := regexp.Compile(re.String())
	if err != nil {
		return t, err
	}
	t.pattern = p
	return t, nil
}

// ---- numbers ----

// numberFilter: 5, NOT 5, <>5, !=5, 1, 3, 5, >5, >=5, <5, <=5, NULL,
// NOT NULL, 5 to 10 (inclusive), [5, 10] / (5, 10) / [5, 10) intervals,
// ">5 AND <10"; comma-separated terms are OR-ed, NOT terms AND-ed
// (filter-expressions, Number).
func numberFilter(expr string, value func(int) (string, bool)) (rowPred, error) {
	type numPred func(x float64, null bool) bool
	var pos, neg []numPred
	parseCmp := func(s string) (numPred, error) {
		s = strings.TrimSpace(s)
		for _, op := range []string{">=", "<=", "<>", "!=", ">", "<", "="} {
			if rest, ok := strings.CutPrefix(s, op); ok {
				n, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				if err != nil {
					return nil, fmt.Errorf("number filter: %q is not a number", rest)
				}
				return func(x float64, null bool) bool {
					if null {
						return false
					}
					switch op {
					case ">=":
						return x >= n
					case "<=":
						return x <= n
					case ">":
						return x > n
					case "<":
						return x < n
					case "=":
						return x == n
					}
					return x != n
				}, nil
			}
		}
		if a, b, ok := strings.Cut(s, " to "); ok {
			lo, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
			hi, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("number filter: %q is not a range", s)
			}
			return func(x float64, null bool) bool { return !null && x >= lo && x <= hi }, nil
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number filter: %q is not a form lookertest models", s)
		}
		return func(x float64, null bool) bool { return !null && x == n }, nil
	}
	interval := regexp.MustCompile(`^([\[(])\s*(-?[0-9.]+|-inf)\s*,\s*(-?[0-9.]+|inf)\s*([\])])$`)
	s := strings.TrimSpace(expr)
	if m := interval.FindStringSubmatch(s); m != nil {
		lo, hi := -1e308, 1e308
		if m[2] != "-inf" {
			lo, _ = strconv.ParseFloat(m[2], 64)
		}
		if m[3] != "inf" {
			hi, _ = strconv.ParseFloat(m[3], 64)
		}
		loIn, hiIn := m[1] == "[", m[4] == "]"
		pos = append(pos, func(x float64, null bool) bool {
			return !null && (x > lo || loIn && x == lo) && (x < hi || hiIn && x == hi)
		})
	} else {
		for _, term := range strings.Split(s, ",") {
			term = strings.TrimSpace(term)
			switch {
			case term == "NULL":
				pos = append(pos, func(_ float64, null bool) bool { return null })
				continue
			case term == "NOT NULL":
				neg = append(neg, func(_ float64, null bool) bool { return null })
				continue
			}
			negated := false
			if rest, ok := strings.CutPrefix(term, "NOT "); ok {
				negated, term = true, rest
			}
			var parts []numPred
			for _, p := range strings.Split(term, " AND ") {
				pred, err := parseCmp(p)
				if err != nil {
					return nil, err
				}
				parts = append(parts, pred)
			}
			all := func(x float64, null bool) bool {
				for _, p := range parts {
					if !p(x, null) {
						return false
					}
				}
				return true
			}
			if negated {
				neg = append(neg, all)
			} else if strings.HasPrefix(term, "<>") || strings.HasPrefix(term, "!=") {
				neg = append(neg, func(x float64, null bool) bool { return !all(x, null) })
			} else {
				pos = append(pos, all)
			}
		}
	}
	return func(row int) bool {
		v, null := value(row)
		x, _ := strconv.ParseFloat(v, 64)
		for _, p := range neg {
			if p(x, null) {
				return false
			}
		}
		if len(pos) == 0 {
			return true
		}
		for _, p := range pos {
			if p(x, null) {
				return true
			}
		}
		return false
	}, nil
}

// ---- dates ----

var (
	relativeRE = regexp.MustCompile(`^(?:last )?([0-9]+) (second|minute|hour|day|week|month|year)s?$`)
	agoRE      = regexp.MustCompile(`^([0-9]+) (day|week|month|year)s? ago$`)
)

// dateFilter: an absolute date or time (2026-01-02, 2026/01/02, 2026-01,
// 2026, 2026-01-02 10:00[:00]), "after X" (X and later), "before X"
// (strictly before), "X to Y" (from X up to but not including Y), today,
// yesterday, "N days" / "last N days" and the other units (the past N
// units; see Options.RelativeDatesComplete), "N days ago", this/last
// week|month|year, NULL and NOT NULL (filter-expressions, Date and time).
// Wall-clock values are read in env.loc: the query time zone for
// converted fields (using-time-zone-settings; NOTES §13.1).
func dateFilter(f *fieldDef, expr string, env filterEnv) (rowPred, error) {
	from, to, err := dateRange(expr, env)
	if err != nil {
		return nil, err
	}
	if expr == "NULL" {
		return func(int) bool { return false }, nil // the sample's times are never null
	}
	lo, hi := int64(-1<<62), int64(1<<62)
	if !from.IsZero() {
		lo = from.Unix()
	}
	if !to.IsZero() {
		hi = to.Unix()
	}
	_ = f
	return func(row int) bool {
		t := Instant(row).Unix()
		return t >= lo && t < hi
	}, nil
}

// dateRange turns a date filter into [from, to): zero times mean open.
func dateRange(expr string, env filterEnv) (from, to time.Time, err error) {
	expr = strings.TrimSpace(expr)
	low := strings.ToLower(expr)
	bad := func() (time.Time, time.Time, error) {
		return time.Time{}, time.Time{}, fmt.Errorf("date filter %q is not a form lookertest models (see https://cloud.google.com/looker/docs/filter-expressions)", expr)
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, env.loc) }
	now := env.now.In(env.loc)
	today := day(now)
	switch {
	case low == "null":
		return time.Time{}, time.Time{}, nil
	case low == "not null":
		return time.Time{}, time.Time{}, nil
	case low == "today":
		return today, today.AddDate(0, 0, 1), nil
	case low == "yesterday":
		return today.AddDate(0, 0, -1), today, nil
	case strings.HasPrefix(low, "after "):
		a, _, ok := absolute(expr[len("after "):], env.loc)
		if !ok {
			return bad()
		}
		return a, time.Time{}, nil
	case strings.HasPrefix(low, "before "):
		a, _, ok := absolute(expr[len("before "):], env.loc)
		if !ok {
			return bad()
		}
		return time.Time{}, a, nil
	case strings.HasPrefix(low, "this ") || strings.HasPrefix(low, "last ") && !relativeRE.MatchString(low):
		unit := low[5:]
		start, next := periodStart(today, unit)
		if start.IsZero() {
			return bad()
		}
		if strings.HasPrefix(low, "this ") {
			return start, next(start, 1), nil
		}
		return next(start, -1), start, nil
	}
	if m := relativeRE.FindStringSubmatch(low); m != nil {
		n, _ := strconv.Atoi(m[1])
		return relative(now, today, n, m[2], env.complete)
	}
	if m := agoRE.FindStringSubmatch(low); m != nil {
		n, _ := strconv.Atoi(m[1])
		start, next := periodStart(today, m[2])
		s := next(start, -n)
		return s, next(s, 1), nil
	}
	if a, b, found := strings.Cut(expr, " to "); found {
		ta, _, ok1 := absolute(a, env.loc)
		tb, _, ok2 := absolute(b, env.loc)
		if !ok1 || !ok2 {
			return bad()
		}
		return ta, tb, nil
	}
	if a, end, ok := absolute(expr, env.loc); ok {
		return a, end, nil
	}
	return bad()
}

// relative is "N units" / "last N units": the past N units. For days and
// longer, the documented reading includes the current unit (today and
// the N-1 days before); Options.RelativeDatesComplete models the reading
// of N complete units, ending at the start of today. For hours and
// shorter: the N units up to now.
func relative(now, today time.Time, n int, unit string, complete bool) (time.Time, time.Time, error) {
	switch unit {
	case "second", "minute", "hour":
		d := map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour}[unit]
		return now.Add(-time.Duration(n) * d), now.Add(time.Nanosecond), nil
	}
	start, next := periodStart(today, unit)
	if complete {
		return next(start, -n), start, nil
	}
	return next(start, -(n - 1)), next(start, 1), nil
}

// periodStart is the start of the day/week/month/year holding day, and a
// function that steps such periods.
func periodStart(day time.Time, unit string) (time.Time, func(time.Time, int) time.Time) {
	switch unit {
	case "day":
		return day, func(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }
	case "week": // weeks start on Monday (the explore's week_start_day)
		off := (int(day.Weekday()) + 6) % 7
		return day.AddDate(0, 0, -off), func(t time.Time, n int) time.Time { return t.AddDate(0, 0, 7*n) }
	case "month":
		return time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, day.Location()),
			func(t time.Time, n int) time.Time { return t.AddDate(0, n, 0) }
	case "year":
		return time.Date(day.Year(), 1, 1, 0, 0, 0, 0, day.Location()),
			func(t time.Time, n int) time.Time { return t.AddDate(n, 0, 0) }
	}
	return time.Time{}, nil
}

// absolute parses an absolute date or time in loc and returns its start
// and the end of the period it names (a day, a month, a year, or the
// second for a time).
func absolute(s string, loc *time.Location) (start, end time.Time, ok bool) {
	s = strings.TrimSpace(s)
	for _, l := range []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006-01-02 15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006/01/02 15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02 15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006/01/02 15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006/01/02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006/01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	} {
		if t, err := time.ParseInLocation(l.layout, s, loc); err == nil {
			return t, l.step(t), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// filterError is a filter the sandbox cannot evaluate: 400 like Looker's
// answer to a malformed filter [inf: Looker's message is not documented].
func filterError(field string, err error) error {
	return &queryError{http.StatusBadRequest, fmt.Sprintf("Invalid filter on %s: %v", field, err)}
}

// ---- custom filters (Query.filter_expression) ----

// exprTermRE is one comparison of a custom filter: ${view.field}, an
// operator, and a number or a double-quoted string.
var exprTermRE = regexp.MustCompile(`^\$\{([a-z_]+\.[a-z_]+)\}\s*(=|!=|<>|>=|<=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?|"(?:[^"\\]|\\.)*")$`)

// customFilter compiles a filter_expression written in Looker
// expressions (https://cloud.google.com/looker/docs/custom-filters): the
// form modelled is comparisons of a field with a literal, joined by AND
// or by OR (not both, no parentheses), and is_null(${field}). Other
// forms answer 400.
func customFilter(expr string, env filterEnv) (rowPred, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, nil
	}
	joiner := " AND "
	if strings.Contains(expr, " OR ") {
		if strings.Contains(expr, " AND ") {
			return nil, fmt.Errorf("filter_expression %q mixes AND and OR, which lookertest does not model", expr)
		}
		joiner = " OR "
	}
	var preds []rowPred
	for _, term := range strings.Split(expr, joiner) {
		term = strings.TrimSpace(term)
		if inner, ok := strings.CutPrefix(term, "is_null(${"); ok && strings.HasSuffix(inner, "})") {
			f, ok := byName[strings.TrimSuffix(inner, "})")]
			if !ok {
				return nil, fmt.Errorf("filter_expression names an unknown field in %q", term)
			}
			preds = append(preds, func(row int) bool { _, null := f.appendValue(nil, row, env.loc); return null })
			continue
		}
		m := exprTermRE.FindStringSubmatch(term)
		if m == nil {
			return nil, fmt.Errorf("filter_expression term %q is not a form lookertest models (${view.field} <op> literal, is_null(${view.field}))", term)
		}
		f, ok := byName[m[1]]
		if !ok || f.Name != m[1] {
			return nil, fmt.Errorf("filter_expression names an unknown field %s", m[1])
		}
		op, lit := m[2], m[3]
		str := strings.HasPrefix(lit, `"`)
		if str {
			lit, _ = strconv.Unquote(lit)
		}
		num, _ := strconv.ParseFloat(lit, 64)
		preds = append(preds, func(row int) bool {
			b, null := f.appendValue(nil, row, env.loc)
			if null {
				return false
			}
			var c int
			if str || !f.numeric {
				c = strings.Compare(string(b), lit)
			} else {
				x, _ := strconv.ParseFloat(string(b), 64)
				switch {
				case x < num:
					c = -1
				case x > num:
					c = 1
				}
			}
			switch op {
			case "=":
				return c == 0
			case "!=", "<>":
				return c != 0
			case ">":
				return c > 0
			case ">=":
				return c >= 0
			case "<":
				return c < 0
			}
			return c <= 0
		})
	}
	and := joiner == " AND "
	return func(row int) bool {
		for _, p := range preds {
			if p(row) != and {
				return !and
			}
		}
		return and
	}, nil
}
