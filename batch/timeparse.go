package batch

import (
	"strings"
	"time"
)

// timeLayouts are the text forms recognised as timestamps, tried in order.
// A form without an offset is read as UTC. Fractional seconds are accepted
// after the seconds field of every layout.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTimeText parses s as a timestamp in one of timeLayouts.
func parseTimeText(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	// Cheap rejection: every layout starts with a four-digit year and "-".
	if len(s) < 10 || s[4] != '-' || s[0] < '0' || s[0] > '9' {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
