package freeze

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 5-field cron expression: minute, hour, day of month,
// month, day of week. As in cron(8) and Kubernetes CronJobs, when both the
// day of month and the day of week are restricted, a day matches either.
type Cron struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar              bool
}

type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	months = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	days   = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
)

// ParseCron parses "minute hour day-of-month month day-of-week". Fields
// take *, numbers, ranges (1-5), steps (*/15, 0-30/10), lists (1,15) and,
// for months and days of week, three-letter English names (JAN, FRI);
// day of week 7 is Sunday. Errors say which field is wrong.
func ParseCron(expr string) (Cron, error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return Cron{}, fmt.Errorf("must have 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 18 * * FRI\"; it has %d", len(f))
	}
	specs := []cronField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day of month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: months},
		{name: "day of week", min: 0, max: 7, names: days},
	}
	var bits [5]uint64
	for i, spec := range specs {
		b, err := parseField(f[i], spec)
		if err != nil {
			return Cron{}, fmt.Errorf("%s field %q: %w", spec.name, f[i], err)
		}
		bits[i] = b
	}
	if bits[4]&(1<<7) != 0 { // 7 is Sunday too
		bits[4] = bits[4]&^(1<<7) | 1
	}
	return Cron{minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domStar: f[2] == "*" || f[2] == "?", dowStar: f[4] == "*" || f[4] == "?"}, nil
}

func parseField(s string, spec cronField) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("step %q must be a positive number", stepText)
			}
			if n > spec.max-spec.min {
				return 0, fmt.Errorf("step %d must be at most %d", n, spec.max-spec.min)
			}
			step = n
		}
		lo, hi := spec.min, spec.max
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, spec); err != nil {
				return 0, err
			}
			if hi, err = value(b, spec); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("range %s must go from low to high", rng)
			}
		default:
			v, err := value(rng, spec)
			if err != nil {
				return 0, err
			}
			lo, hi = v, v
			if hasStep {
				hi = spec.max
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func value(s string, spec cronField) (int, error) {
	if v, ok := spec.names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if spec.names != nil {
			return 0, fmt.Errorf("%q must be a number from %d to %d or a three-letter name", s, spec.min, spec.max)
		}
		return 0, fmt.Errorf("%q must be a number from %d to %d", s, spec.min, spec.max)
	}
	if v < spec.min || v > spec.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, spec.min, spec.max)
	}
	return v, nil
}

// dayMatches reports whether a calendar day matches the day fields.
func (c Cron) dayMatches(y int, m time.Month, d int) bool {
	if c.month&(1<<uint(m)) == 0 {
		return false
	}
	wd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()
	domOK, dowOK := c.dom&(1<<uint(d)) != 0, c.dow&(1<<uint(wd)) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dowOK
	case c.dowStar:
		return domOK
	default:
		return domOK || dowOK
	}
}

// wallTime is a date and time of day without a zone: what a cron
// expression names.
type wallTime struct {
	y            int
	m            time.Month
	d, h, minute int
}

// plus is the wall time some wall-clock minutes later.
func (w wallTime) plus(minutes int) wallTime {
	t := time.Date(w.y, w.m, w.d, w.h, w.minute+minutes, 0, 0, time.UTC)
	return wallTime{t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()}
}

// before reports whether w comes before v.
func (w wallTime) before(v wallTime) bool {
	a := [5]int{w.y, int(w.m), w.d, w.h, w.minute}
	b := [5]int{v.y, int(v.m), v.d, v.h, v.minute}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// naive is the wall time as if it were UTC, for comparing wall times.
func (w wallTime) naive() time.Time { return time.Date(w.y, w.m, w.d, w.h, w.minute, 0, 0, time.UTC) }

func wallOf(t time.Time) wallTime {
	return wallTime{t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()}
}

// in resolves a wall time in loc. A wall time the clocks skip resolves to
// the moment they jump; one they pass twice resolves to its first
// occurrence when earliest is set, else to its second.
func (w wallTime) in(loc *time.Location, earliest bool) time.Time {
	t := time.Date(w.y, w.m, w.d, w.h, w.minute, 0, 0, loc)
	if wallOf(t) != w {
		// Skipped: the jump is the first instant whose wall time is past
		// w, within the few hours before t.
		lo, hi := t.Add(-3*time.Hour), t
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if wallOf(mid.In(loc)).naive().Before(w.naive()) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return hi.Truncate(time.Second)
	}
	_, off := t.Zone()
	_, offBefore := t.Add(-2 * time.Hour).Zone()
	_, offAfter := t.Add(2 * time.Hour).Zone()
	if off == offBefore && off == offAfter {
		return t // no clock change near: w happens once
	}
	best := t
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		for _, alt := range []time.Time{t.Add(-d), t.Add(d)} {
			if wallOf(alt.In(loc)) == w && (alt.Before(best) == earliest) {
				best = alt
			}
		}
	}
	return best.In(loc)
}

// maxSearchDays bounds the search for a matching day: 8 years cover every
// expression that matches at all (29 February falls on each weekday within
// 28 years, but such an expression also matches any 29 February, which
// comes within 8 years).
const maxSearchDays = 8*366 + 1

// budget counts the steps (a day examined, a month skipped, a start
// handed to the caller) a search may still take; nil is unbounded.
type budget struct{ left int }

// take spends one step; false when none is left.
func (b *budget) take() bool {
	if b == nil {
		return true
	}
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}

// times calls fn with the cron's wall times from the calendar day of from
// onward (forward) or backward, in order, until fn returns false, over at
// most maxDays calendar days and while b has steps left. Wall times on
// from's day but before from in the search are passed over. It reports
// whether it stopped for lack of budget. Months the cron does not name
// are skipped whole.
func (c Cron) times(from wallTime, forward bool, maxDays int, b *budget, fn func(wallTime) bool) (exhausted bool) {
	day := time.Date(from.y, from.m, from.d, 12, 0, 0, 0, time.UTC)
	last := day.AddDate(0, 0, maxDays-1)
	dir := 1
	if !forward {
		dir = -1
		last = day.AddDate(0, 0, 1-maxDays)
	}
	for ; (forward && !day.After(last)) || (!forward && !day.Before(last)); day = day.AddDate(0, 0, dir) {
		if !b.take() {
			return true
		}
		y, m, d := day.Date()
		if c.month&(1<<uint(m)) == 0 {
			// Jump to the month's last day (forward) or first (backward);
			// the loop step then leaves the month.
			if forward {
				day = time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC)
			} else {
				day = time.Date(y, m, 1, 12, 0, 0, 0, time.UTC)
			}
			continue
		}
		if !c.dayMatches(y, m, d) {
			continue
		}
		for hi := 0; hi < 24; hi++ {
			h := hi
			if !forward {
				h = 23 - hi
			}
			if c.hour&(1<<uint(h)) == 0 {
				continue
			}
			for mi := 0; mi < 60; mi++ {
				mm := mi
				if !forward {
					mm = 59 - mi
				}
				if c.minute&(1<<uint(mm)) == 0 {
					continue
				}
				w := wallTime{y, m, d, h, mm}
				if (forward && w.before(from)) || (!forward && from.before(w)) {
					continue // on from's day, but before it in the search
				}
				if !b.take() {
					return true
				}
				if !fn(w) {
					return false
				}
			}
		}
	}
	return false
}

// HasStart reports whether the cron names a start within the search
// horizon (8 years from t); "0 0 31 2 *" names none.
func (c Cron) HasStart(t time.Time) bool {
	found := false
	c.times(wallOf(t.UTC()), true, maxSearchDays, nil, func(wallTime) bool {
		found = true
		return false
	})
	return found
}
