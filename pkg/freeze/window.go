package freeze

import (
	"errors"
	"fmt"
	"time"
)

// MaxDuration is the longest a window may last: a year and a day.
const MaxDuration = 366 * 24 * time.Hour

// Window is one recurring freeze window.
type Window struct {
	// Start is a 5-field cron expression, read in TimeZone.
	Start string
	// Duration is how long each window lasts, in wall-clock time: a
	// positive whole number of minutes, at most MaxDuration.
	Duration time.Duration
	// TimeZone is an IANA time zone name such as Europe/Berlin; empty is UTC.
	TimeZone string
}

// Schedule is a Window ready for arithmetic.
type Schedule struct {
	window  Window
	cron    Cron
	loc     *time.Location
	minutes int
}

// Occurrence is one window: Start <= t < End is frozen.
type Occurrence struct {
	Start, End time.Time
}

// ValidateDuration checks a window's duration.
func ValidateDuration(d time.Duration) error {
	switch {
	case d <= 0:
		return errors.New("must be positive, e.g. 62h")
	case d%time.Minute != 0:
		return errors.New("must be a whole number of minutes")
	case d > MaxDuration:
		return fmt.Errorf("must be at most %s (366 days)", MaxDuration)
	}
	return nil
}

// LoadTimeZone returns the location of an IANA time zone name; empty is UTC.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, errors.New("must be an IANA time zone name such as Europe/Berlin, not Local (the server's zone)")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("must be an IANA time zone name such as Europe/Berlin or America/New_York: %w", err)
	}
	return loc, nil
}

// Compile checks a window and makes its Schedule.
func Compile(w Window) (*Schedule, error) {
	c, err := ParseCron(w.Start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if err := ValidateDuration(w.Duration); err != nil {
		return nil, fmt.Errorf("duration: %w", err)
	}
	loc, err := LoadTimeZone(w.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("timeZone: %w", err)
	}
	return &Schedule{window: w, cron: c, loc: loc, minutes: int(w.Duration / time.Minute)}, nil
}

// Window returns the window the schedule was compiled from.
func (s *Schedule) Window() Window { return s.window }

// Location is the window's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

func (s *Schedule) occurrence(w wallTime) Occurrence {
	return Occurrence{Start: w.in(s.loc, true), End: w.plus(s.minutes).in(s.loc, false)}
}

func (s *Schedule) wall(t time.Time) wallTime {
	return wallOf(t.In(s.loc))
}

// Next returns the first window that starts after t; false when the
// expression names no day in the next 8 years (e.g. 31 February).
func (s *Schedule) Next(t time.Time) (Occurrence, bool) {
	return s.next(t, nil)
}

func (s *Schedule) next(t time.Time, b *budget) (Occurrence, bool) {
	var out Occurrence
	found := false
	// Wall times resolve in order, so the first start after t is next.
	s.cron.times(s.wall(t.Add(-3*time.Hour)), true, maxSearchDays, b, func(w wallTime) bool {
		if !w.in(s.loc, true).After(t) {
			return true
		}
		out, found = s.occurrence(w), true
		return false
	})
	return out, found
}

// Active returns the window that t falls in, if any: the latest one that
// started at or before t and has not ended. It looks back only as far as
// a window lasts, plus a day for time-zone shifts.
func (s *Schedule) Active(t time.Time) (Occurrence, bool) {
	return s.active(t, nil)
}

// activeDays is how many calendar days Active examines: the window's
// length in days, a day for the search starting 3 hours after t, and a
// day for time-zone shifts.
func (s *Schedule) activeDays() int {
	return s.minutes/(24*60) + 3
}

func (s *Schedule) active(t time.Time, b *budget) (Occurrence, bool) {
	o, ok := s.previous(t, s.activeDays(), b)
	return o, ok && t.Before(o.End)
}

// Previous returns the latest window that started at or before t, open
// or not; false when none did in the 8 years before t.
func (s *Schedule) Previous(t time.Time) (Occurrence, bool) {
	return s.previous(t, maxSearchDays, nil)
}

func (s *Schedule) previous(t time.Time, days int, b *budget) (Occurrence, bool) {
	var out Occurrence
	found := false
	// Wall times resolve in order, and every window lasts as long in wall
	// time, so the last start at or before t has the latest end.
	s.cron.times(s.wall(t.Add(3*time.Hour)), false, days, b, func(w wallTime) bool {
		if w.in(s.loc, true).After(t) {
			return true
		}
		out, found = s.occurrence(w), true
		return false
	})
	return out, found
}

// State is what Evaluate says of an instant.
type State struct {
	// Frozen is true when the switch is on or a window is open.
	Frozen bool
	// Manual is true when the switch is on.
	Manual bool
	// Window is the index of the window open at the instant, or -1.
	Window int
	// Current is that window's occurrence.
	Current Occurrence
	// Until is when the open windows end, following windows that start
	// before the previous one ends (zero when none is open). With the
	// switch on, the environment stays frozen after Until.
	Until time.Time
	// Next is the next window that starts after Until (or after the
	// instant, when none is open), and NextWindow its index; NextWindow
	// is -1 when there is none.
	Next       Occurrence
	NextWindow int
	// LastEnded is when the last window before the instant closed, when
	// none is open (zero when none did).
	LastEnded time.Time
}

// maxChain bounds how many back-to-back windows Until follows.
const maxChain = 64

// maxEvaluateSteps bounds the calendar steps Evaluate spends on Until,
// LastEnded and Next beyond deciding Frozen (which costs at most
// activeDays per window). When it runs out, Until is the end of the
// windows followed so far, and Next or LastEnded may be missing: they
// are information, never the decision.
const maxEvaluateSteps = 5000

// Evaluate says whether now is frozen by the switch (manual) or by one of
// the windows, until when, and which window comes next.
func Evaluate(manual bool, windows []*Schedule, now time.Time) State {
	st, _ := evaluate(manual, windows, now)
	return st
}

// evaluate is Evaluate, also returning the calendar steps it took.
func evaluate(manual bool, windows []*Schedule, now time.Time) (State, int) {
	st := State{Frozen: manual, Manual: manual, Window: -1, NextWindow: -1}
	// Frozen or not: each window looks back only as long as it lasts.
	decide := &budget{left: 1 << 30}
	for idx, s := range windows {
		o, ok := s.active(now, decide)
		if !ok || !o.End.After(now) {
			continue
		}
		if st.Window < 0 {
			st.Window, st.Current = idx, o
		}
		if o.End.After(st.Until) {
			st.Until = o.End
		}
	}
	steps := 1<<30 - decide.left
	b := &budget{left: maxEvaluateSteps}
	until := st.Until
	for i := 1; i < maxChain && st.Window >= 0; i++ {
		extended := false
		for _, s := range windows {
			o, ok := s.active(until, b)
			if !ok || !o.End.After(until) {
				continue
			}
			if o.End.After(st.Until) {
				st.Until = o.End
			}
			extended = true
		}
		if !extended || !st.Until.After(until) {
			break
		}
		until = st.Until
	}
	if st.Window >= 0 {
		st.Frozen = true
	} else {
		for _, s := range windows {
			if o, ok := s.previous(now, maxSearchDays, b); ok && o.End.After(st.LastEnded) {
				st.LastEnded = o.End
			}
		}
	}
	ref := now
	if !st.Until.IsZero() {
		ref = st.Until.Add(-time.Nanosecond) // a window starting as the last ends is next
	}
	for idx, s := range windows {
		if o, ok := s.next(ref, b); ok && (st.NextWindow < 0 || o.Start.Before(st.Next.Start)) {
			st.Next, st.NextWindow = o, idx
		}
	}
	return st, steps + maxEvaluateSteps - b.left
}
