package lookertest

import (
	"strconv"
	"strings"
)

// formatNumber renders raw, an unformatted number such as "1234.5", with
// an Excel-style LookML value_format such as "#,##0.00" ("1,234.50"): the
// decimals after the point, and thousands separators when the format has a
// comma. An empty format leaves the number as is. Only these parts of
// value_format are modelled (currency symbols, percent, conditions and
// named formats are not). With apply_formatting=true Looker sends values
// "formatted as they appear in Looker" (spec run_query parameter
// apply_formatting: "Apply model-specified formatting to each result").
func formatNumber(dst, raw []byte, format string) []byte {
	if format == "" {
		return append(dst, raw...)
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return append(dst, raw...)
	}
	decimals := 0
	if _, frac, ok := strings.Cut(format, "."); ok {
		decimals = strings.Count(frac, "0") + strings.Count(frac, "#")
	}
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if !strings.Contains(format, ",") {
		return append(dst, s...)
	}
	if s[0] == '-' {
		dst = append(dst, '-')
		s = s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	for i := range len(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, intPart[i])
	}
	if hasFrac {
		dst = append(append(dst, '.'), frac...)
	}
	return dst
}
