package config

import (
	"fmt"
	"strconv"
	"strings"
)

// DescribeSchedule says a cron schedule in English for the common forms:
// "every 15 minutes", "every day at 06:00", "at 07:30 on weekdays",
// "every hour at minute 5", "at 00:00 on day 1 of the month", "every 2h".
// Forms it does not know come back as "custom schedule"; the cron
// expression is always shown beside it.
func DescribeSchedule(spec string) string {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "@yearly", "@annually":
		return "every year on January 1 at 00:00"
	case "@monthly":
		return "at 00:00 on day 1 of the month"
	case "@weekly":
		return "every Sunday at 00:00"
	case "@daily", "@midnight":
		return "every day at 00:00"
	case "@hourly":
		return "every hour at minute 0"
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		return "every " + strings.TrimSpace(d)
	}
	f := strings.Fields(spec)
	if len(f) == 6 {
		if f[0] != "0" {
			return "custom schedule"
		}
		f = f[1:]
	}
	if len(f) != 5 {
		return "custom schedule"
	}
	for i := range f {
		if f[i] == "?" {
			f[i] = "*"
		}
	}
	min, hour, dom, mon, dow := f[0], f[1], f[2], f[3], f[4]
	t, daily, ok := describeTime(min, hour)
	if !ok {
		return "custom schedule"
	}
	var days []string
	if dom != "*" {
		d, ok := describeList(dom, 1, 31, nil)
		if !ok {
			return "custom schedule"
		}
		if strings.ContainsAny(d, ",") || strings.Contains(d, " and ") || strings.Contains(d, " to ") {
			days = append(days, "on days "+d+" of the month")
		} else {
			days = append(days, "on day "+d+" of the month")
		}
	}
	if dow != "*" {
		d, ok := describeDow(dow)
		if !ok {
			return "custom schedule"
		}
		days = append(days, "on "+d)
	}
	if mon != "*" {
		m, ok := describeList(mon, 1, 12, monthNames)
		if !ok {
			return "custom schedule"
		}
		days = append(days, "in "+m)
	}
	if len(days) == 0 {
		if daily {
			return "every day " + t
		}
		return t
	}
	if dom != "*" && dow != "*" {
		// cron fires when either matches.
		days = []string{days[0] + " or " + strings.Join(days[1:], " ")}
	}
	return t + " " + strings.Join(days, " ")
}

// describeTime handles the minute and hour fields. daily reports a fixed
// time of day, which reads better after "every day".
func describeTime(min, hour string) (s string, daily, ok bool) {
	if min == "*" && hour == "*" {
		return "every minute", false, true
	}
	if n, ok := strings.CutPrefix(min, "*/"); ok && hour == "*" {
		if _, err := strconv.Atoi(n); err != nil {
			return "", false, false
		}
		return "every " + n + " minutes", false, true
	}
	if n, ok := strings.CutPrefix(min, "*/"); ok {
		hours, hok := describeList(hour, 0, 23, nil)
		if _, err := strconv.Atoi(n); err != nil || !hok {
			return "", false, false
		}
		return "every " + n + " minutes during hour " + hours, false, true
	}
	mins, ok := numbers(min, 0, 59)
	if !ok {
		return "", false, false
	}
	if hour == "*" {
		if len(mins) == 1 {
			return fmt.Sprintf("every hour at minute %d", mins[0]), false, true
		}
		return "every hour at minutes " + joinInts(mins), false, true
	}
	if n, ok := strings.CutPrefix(hour, "*/"); ok && len(mins) == 1 {
		if _, err := strconv.Atoi(n); err != nil {
			return "", false, false
		}
		return fmt.Sprintf("every %s hours at minute %d", n, mins[0]), false, true
	}
	if lo, hi, ok := rangeOf(hour); ok && len(mins) == 1 {
		return fmt.Sprintf("every hour from %02d:%02d to %02d:%02d", lo, mins[0], hi, mins[0]), false, true
	}
	hours, ok := numbers(hour, 0, 23)
	if !ok || len(hours)*len(mins) > 6 {
		return "", false, false
	}
	var times []string
	for _, h := range hours {
		for _, m := range mins {
			times = append(times, fmt.Sprintf("%02d:%02d", h, m))
		}
	}
	return "at " + joinAnd(times), true, true
}

var monthNames = []string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

var dowAliases = map[string]string{"SUN": "0", "MON": "1", "TUE": "2", "WED": "3", "THU": "4", "FRI": "5", "SAT": "6"}
var monAliases = map[string]string{"JAN": "1", "FEB": "2", "MAR": "3", "APR": "4", "MAY": "5", "JUN": "6", "JUL": "7", "AUG": "8", "SEP": "9", "OCT": "10", "NOV": "11", "DEC": "12"}

func describeDow(dow string) (string, bool) {
	dow = replaceAliases(dow, dowAliases)
	switch dow {
	case "1-5":
		return "weekdays (Monday to Friday)", true
	case "0,6", "6,0", "6-7":
		return "weekends", true
	}
	if lo, hi, ok := rangeOf(dow); ok && lo <= 7 && hi <= 7 {
		return dayNames[lo] + " to " + dayNames[hi], true
	}
	ds, ok := numbers(dow, 0, 7)
	if !ok {
		return "", false
	}
	var names []string
	for _, d := range ds {
		names = append(names, dayNames[d]+"s")
	}
	return joinAnd(names), true
}

// describeList says a field of numbers, ranges and lists; names, when
// given, maps numbers to words.
func describeList(field string, lo, hi int, names []string) (string, bool) {
	field = replaceAliases(field, monAliases)
	name := func(n int) string {
		if names != nil {
			return names[n]
		}
		return strconv.Itoa(n)
	}
	if a, b, ok := rangeOf(field); ok && a >= lo && b <= hi {
		return name(a) + " to " + name(b), true
	}
	ns, ok := numbers(field, lo, hi)
	if !ok {
		return "", false
	}
	var out []string
	for _, n := range ns {
		out = append(out, name(n))
	}
	return joinAnd(out), true
}

func replaceAliases(s string, aliases map[string]string) string {
	s = strings.ToUpper(s)
	for k, v := range aliases {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// numbers parses "5" or "0,15,30" (no ranges or steps).
func numbers(field string, lo, hi int) ([]int, bool) {
	var out []int
	for _, p := range strings.Split(field, ",") {
		n, err := strconv.Atoi(p)
		if err != nil || n < lo || n > hi {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// rangeOf parses "a-b".
func rangeOf(field string) (int, int, bool) {
	a, b, ok := strings.Cut(field, "-")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || x > y {
		return 0, 0, false
	}
	return x, y, true
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return joinAnd(s)
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
