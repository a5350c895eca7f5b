package freeze

import (
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return loc
}

func TestEvaluate(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	newYork := mustLoad(t, "America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	weekend := Window{Start: "0 18 * * FRI", Duration: 62 * time.Hour, TimeZone: "Europe/Berlin"}
	cases := []struct {
		name    string
		manual  bool
		windows []Window
		now     time.Time
		frozen  bool
		until   time.Time // zero: not frozen by a window
		next    time.Time // start of the next window; zero: none
		real    time.Duration
		ended   time.Time // when the last window closed, if checked
	}{
		{
			name: "open: Friday 17:59 in Berlin, the window starts at 18:00", windows: []Window{weekend},
			now: at(berlin, 2026, 6, 5, 17, 59), next: at(berlin, 2026, 6, 5, 18, 0),
		},
		{
			name: "frozen: Friday 18:00 in Berlin, until Monday 08:00", windows: []Window{weekend},
			now: at(berlin, 2026, 6, 5, 18, 0), frozen: true, until: at(berlin, 2026, 6, 8, 8, 0),
			next: at(berlin, 2026, 6, 12, 18, 0), real: 62 * time.Hour,
		},
		{
			name: "frozen: Monday 07:59 in Berlin", windows: []Window{weekend},
			now: at(berlin, 2026, 6, 8, 7, 59), frozen: true, until: at(berlin, 2026, 6, 8, 8, 0),
			next: at(berlin, 2026, 6, 12, 18, 0),
		},
		{
			name: "open: Monday 08:00 in Berlin, the window has ended", windows: []Window{weekend},
			now: at(berlin, 2026, 6, 8, 8, 0), next: at(berlin, 2026, 6, 12, 18, 0), ended: at(berlin, 2026, 6, 8, 8, 0),
		},
		{
			name: "frozen: a weekend spanning spring-forward ends Monday 08:00 summer time, 61 real hours", windows: []Window{weekend},
			now: at(berlin, 2026, 3, 29, 12, 0), frozen: true, until: at(berlin, 2026, 3, 30, 8, 0),
			next: at(berlin, 2026, 4, 3, 18, 0), real: 61 * time.Hour,
		},
		{
			name: "frozen: a weekend spanning fall-back ends Monday 08:00 winter time, 63 real hours", windows: []Window{weekend},
			now: at(berlin, 2026, 10, 24, 12, 0), frozen: true, until: at(berlin, 2026, 10, 26, 8, 0),
			next: at(berlin, 2026, 10, 30, 18, 0), real: 63 * time.Hour,
		},
		{
			name:    "frozen: a start in the skipped hour (02:30 on spring-forward night) is the jump, 03:00 summer time, and the window keeps its wall-clock end",
			windows: []Window{{Start: "30 2 29 3 *", Duration: time.Hour, TimeZone: "Europe/Berlin"}},
			now:     time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), frozen: true,
			until: at(berlin, 2026, 3, 29, 3, 30), next: at(berlin, 2027, 3, 29, 2, 30), real: 30 * time.Minute,
		},
		{
			name:    "open: before the skipped-hour start resolves, the window is next",
			windows: []Window{{Start: "30 2 29 3 *", Duration: time.Hour, TimeZone: "Europe/Berlin"}},
			now:     time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC), next: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
		},
		{
			name:    "frozen: the first 02:45 of fall-back night, a 02:30 start happens at its first occurrence",
			windows: []Window{{Start: "30 2 25 10 *", Duration: 30 * time.Minute, TimeZone: "Europe/Berlin"}},
			now:     time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC), frozen: true,
			until: time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), next: at(berlin, 2027, 10, 25, 2, 30), real: 90 * time.Minute,
		},
		{
			name:    "frozen: the second 02:45 of fall-back night, the window ends at 03:00 winter time",
			windows: []Window{{Start: "30 2 25 10 *", Duration: 30 * time.Minute, TimeZone: "Europe/Berlin"}},
			now:     time.Date(2026, 10, 25, 1, 45, 0, 0, time.UTC), frozen: true,
			until: time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), next: at(berlin, 2027, 10, 25, 2, 30),
		},
		{
			name:    "open: 03:00 winter time on fall-back night, the window has ended",
			windows: []Window{{Start: "30 2 25 10 *", Duration: 30 * time.Minute, TimeZone: "Europe/Berlin"}},
			now:     time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), next: at(berlin, 2027, 10, 25, 2, 30),
		},
		{
			name:    "frozen: New York's weekend across its spring-forward (8 March 2026) ends Monday 08:00 EDT",
			windows: []Window{{Start: "0 17 * * FRI", Duration: 63 * time.Hour, TimeZone: "America/New_York"}},
			now:     at(newYork, 2026, 3, 8, 12, 0), frozen: true, until: at(newYork, 2026, 3, 9, 8, 0),
			next: at(newYork, 2026, 3, 13, 17, 0), real: 62 * time.Hour,
		},
		{
			name:    "open: Monday 02:30 in New York is 08:30 in Berlin, after Berlin's weekend window",
			windows: []Window{weekend},
			now:     at(newYork, 2026, 6, 8, 2, 30), next: at(berlin, 2026, 6, 12, 18, 0),
		},
		{
			name:    "frozen: the same instant, Monday 02:30 in New York, is inside New York's weekend window",
			windows: []Window{{Start: "0 17 * * FRI", Duration: 63 * time.Hour, TimeZone: "America/New_York"}},
			now:     at(newYork, 2026, 6, 8, 2, 30), frozen: true, until: at(newYork, 2026, 6, 8, 8, 0),
			next: at(newYork, 2026, 6, 12, 17, 0),
		},
		{
			name:    "frozen: back-to-back windows chain, Saturday and Sunday freeze until Monday 00:00 UTC",
			windows: []Window{{Start: "0 0 * * SAT", Duration: 24 * time.Hour}, {Start: "0 0 * * SUN", Duration: 24 * time.Hour}},
			now:     time.Date(2026, 6, 6, 10, 0, 0, 0, time.UTC), frozen: true,
			until: time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC), next: time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC),
		},
		{
			name:   "frozen: the switch is on with no window open, indefinitely",
			manual: true, windows: []Window{weekend},
			now: at(berlin, 2026, 6, 3, 12, 0), frozen: true, next: at(berlin, 2026, 6, 5, 18, 0),
		},
		{
			name:    "open: day of month and day of week both restricted match either (the 13th or a Friday)",
			windows: []Window{{Start: "0 0 13 * FRI", Duration: time.Hour}},
			now:     time.Date(2026, 6, 9, 0, 0, 0, 0, time.UTC), next: time.Date(2026, 6, 12, 0, 0, 0, 0, time.UTC),
		},
		{
			name:    "open: 29 February comes in 2028",
			windows: []Window{{Start: "0 0 29 2 *", Duration: time.Hour}},
			now:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), next: time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC),
		},
		{
			name:    "open: 31 February never comes",
			windows: []Window{{Start: "0 0 31 2 *", Duration: time.Hour}},
			now:     time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var scheds []*Schedule
			for _, w := range tc.windows {
				s, err := Compile(w)
				if err != nil {
					t.Fatalf("compiling %+v: %v", w, err)
				}
				scheds = append(scheds, s)
			}
			st := Evaluate(tc.manual, scheds, tc.now)
			if st.Frozen != tc.frozen {
				t.Errorf("frozen = %v, want %v (state %+v)", st.Frozen, tc.frozen, st)
			}
			if !st.Until.Equal(tc.until) {
				t.Errorf("until = %v, want %v", st.Until, tc.until)
			}
			if tc.next.IsZero() != (st.NextWindow < 0) || (!tc.next.IsZero() && !st.Next.Start.Equal(tc.next)) {
				t.Errorf("next window starts %v (window %d), want %v", st.Next.Start, st.NextWindow, tc.next)
			}
			if !tc.ended.IsZero() && !st.LastEnded.Equal(tc.ended) {
				t.Errorf("the last window ended %v, want %v", st.LastEnded, tc.ended)
			}
			if !st.Frozen && st.LastEnded.After(tc.now) {
				t.Errorf("the last window ended %v, after the instant %v", st.LastEnded, tc.now)
			}
			if tc.real != 0 {
				if got := st.Current.End.Sub(st.Current.Start); got != tc.real {
					t.Errorf("the open window lasts %v in real time, want %v", got, tc.real)
				}
			}
		})
	}
}

func TestParseCron(t *testing.T) {
	cases := []struct {
		name, expr, wantErr string
	}{
		{"accepted: weekly on Friday by name", "0 18 * * FRI", ""},
		{"accepted: lists, ranges and steps", "*/15 9-17 1,15 JAN-MAR 1-5", ""},
		{"accepted: Sunday as 7", "0 0 * * 7", ""},
		{"refused: four fields", "0 18 * *", "must have 5 fields"},
		{"refused: minute 60", "60 18 * * *", "minute field \"60\": 60 is out of range 0-59"},
		{"refused: unknown day name", "0 18 * * FRIDAY", "day of week field \"FRIDAY\""},
		{"refused: zero step", "*/0 * * * *", "step \"0\" must be a positive number"},
		{"refused: a step that would overflow", "59/9223372036854775807 * * * *", "step 9223372036854775807 must be at most 59"},
		{"refused: a step longer than the field", "0 0 * */12 *", "step 12 must be at most 11"},
		{"accepted: the longest step", "0 0 * */11 *", ""},
		{"refused: inverted range", "0 18-9 * * *", "range 18-9 must go from low to high"},
		{"refused: a descriptor", "@weekly", "must have 5 fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCron(tc.expr)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ParseCron(%q): %v", tc.expr, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("ParseCron(%q) error = %v, want one containing %q", tc.expr, err, tc.wantErr)
			}
		})
	}
}

func TestCompileRefusals(t *testing.T) {
	cases := []struct {
		name    string
		w       Window
		wantErr string
	}{
		{"refused: unknown time zone", Window{Start: "0 18 * * FRI", Duration: time.Hour, TimeZone: "Europe/Atlantis"}, "timeZone: must be an IANA time zone name"},
		{"refused: the server's Local zone", Window{Start: "0 18 * * FRI", Duration: time.Hour, TimeZone: "Local"}, "not Local"},
		{"refused: zero duration", Window{Start: "0 18 * * FRI"}, "duration: must be positive"},
		{"refused: seconds in the duration", Window{Start: "0 18 * * FRI", Duration: 90 * time.Second}, "whole number of minutes"},
		{"refused: longer than a year and a day", Window{Start: "0 18 * * FRI", Duration: MaxDuration + time.Hour}, "at most"},
		{"refused: bad start", Window{Start: "0 25 * * *", Duration: time.Hour}, "start: hour field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.w)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Compile(%+v) error = %v, want one containing %q", tc.w, err, tc.wantErr)
			}
		})
	}
}

// adversarial is the expensive spec the attacker review found: a window
// that chains into itself year after year, and 31 windows whose start
// comes rarely (29 February) or never (31 February, which validation now
// refuses but Git may still hold).
func adversarial(t testing.TB) []*Schedule {
	ws := []Window{{Start: "0 0 1 1 *", Duration: 8784 * time.Hour}}
	for i := 0; i < 31; i++ {
		start := "0 0 31 2 *"
		if i%2 == 0 {
			start = "0 0 29 2 *"
		}
		ws = append(ws, Window{Start: start, Duration: time.Minute})
	}
	var out []*Schedule
	for _, w := range ws {
		s, err := Compile(w)
		if err != nil {
			t.Fatalf("Compile(%+v): %v", w, err)
		}
		out = append(out, s)
	}
	return out
}

// minutely is 32 windows that open every minute, for a minute: each
// search hands over many starts.
func minutely(t testing.TB) []*Schedule {
	var out []*Schedule
	for i := 0; i < 32; i++ {
		s, err := Compile(Window{Start: "* * * * *", Duration: time.Minute, TimeZone: "Europe/Berlin"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestEvaluateWorkIsBounded(t *testing.T) {
	for name, scheds := range map[string][]*Schedule{"yearly chain and leap days": adversarial(t), "minutely": minutely(t)} {
		t.Run(name, func(t *testing.T) { testEvaluateWorkIsBounded(t, scheds) })
	}
}

func testEvaluateWorkIsBounded(t *testing.T, scheds []*Schedule) {
	// Deciding Frozen: each window looks back as long as it lasts (plus
	// days for zones) and hands over at most the starts of 3 hours plus
	// one; the rest shares maxEvaluateSteps.
	bound := maxEvaluateSteps
	for _, s := range scheds {
		bound += s.activeDays() + 3*60 + 1
	}
	for _, now := range []time.Time{
		time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC),
		time.Date(2028, 2, 29, 0, 0, 30, 0, time.UTC),
	} {
		st, steps := evaluate(false, scheds, now)
		if !st.Frozen || st.Window != 0 || st.Until.IsZero() {
			t.Errorf("at %s: state %+v, want frozen by window 0", now, st)
		}
		if steps > bound {
			t.Errorf("at %s: Evaluate took %d calendar steps, want at most %d", now, steps, bound)
		}
	}
}

func TestCronHasStart(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for expr, want := range map[string]bool{"0 0 31 2 *": false, "0 0 30 2 *": false, "0 0 29 2 *": true, "0 0 31 4 *": false, "0 0 31 2 MON": true} {
		c, err := ParseCron(expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.HasStart(now); got != want {
			t.Errorf("ParseCron(%q).HasStart = %v, want %v", expr, got, want)
		}
	}
}

func BenchmarkEvaluateAdversarial(b *testing.B) {
	scheds := adversarial(b)
	now := time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		Evaluate(false, scheds, now)
	}
}

func BenchmarkEvaluateMinutely(b *testing.B) {
	scheds := minutely(b)
	now := time.Date(2027, 3, 10, 12, 0, 30, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		Evaluate(false, scheds, now)
	}
}
