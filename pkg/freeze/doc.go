// Package freeze is the arithmetic of freeze windows: a 5-field cron
// expression read in a time zone says when a window starts, a duration how
// long it lasts, and Evaluate says whether an instant is frozen, until
// when, and when the next window starts. It is pure: no clock, no I/O.
//
// Times are wall-clock times of the window's time zone, so a window keeps
// its local shape across daylight-saving changes: "0 18 * * FRI" with 62h
// runs from Friday 18:00 to Monday 08:00 local time all year, however many
// real hours that is. A start or end in the hour the clocks skip is the
// moment they jump (02:30 on Berlin's spring-forward night is 03:00 summer
// time); in the hour that repeats, a window starts at the first occurrence
// and ends at the second. Windows resolve to the longer side, and a window
// is never skipped.
package freeze
