package main

import (
	"strings"
	"testing"
)

func tbl(s string) *table {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	t := &table{header: strings.Split(lines[0], ",")}
	for _, l := range lines[1:] {
		t.rows = append(t.rows, strings.Split(l, ","))
	}
	return t
}

func TestCompare(t *testing.T) {
	base := "country,category,n,amount_sum,clicks_avg\nUS,books,3,30.5,2.5\nDE,toys,1,11,1\n"
	cases := []struct {
		name, other string
		keys        []string
		diffs       int
	}{
		{"same", base, nil, 0},
		{"rows reordered, columns reordered, float noise",
			"category,country,amount_sum,n,clicks_avg\ntoys,DE,11.000000000001,1,1\nbooks,US,30.5,3,2.4999999999999996\n", nil, 0},
		{"explicit keys", base, []string{"country", "category"}, 0},
		{"float off", "country,category,n,amount_sum,clicks_avg\nUS,books,3,30.6,2.5\nDE,toys,1,11,1\n", nil, 1},
		{"count off", "country,category,n,amount_sum,clicks_avg\nUS,books,4,30.5,2.5\nDE,toys,1,11,1\n", nil, 1},
		{"missing row", "country,category,n,amount_sum,clicks_avg\nUS,books,3,30.5,2.5\n", nil, 1},
		{"extra row", base + "FR,home,1,12,0\n", nil, 1},
		{"unicode key differs", "country,category,n,amount_sum,clicks_avg\nUS,böoks,3,30.5,2.5\nDE,toys,1,11,1\n", nil, 2},
		{"column renamed", "country,category,n,amount_total,clicks_avg\nUS,books,3,30.5,2.5\nDE,toys,1,11,1\n", nil, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := compare(tbl(base), tbl(c.other), c.keys, 1e-9)
			if err != nil {
				t.Fatal(err)
			}
			if len(d) != c.diffs {
				t.Fatalf("got %d differences %q, want %d", len(d), d, c.diffs)
			}
		})
	}
	if _, err := compare(tbl(base), tbl(base), []string{"nope"}, 1e-9); err == nil {
		t.Fatal("unknown key column: want an error")
	}
}

func TestCellsEqual(t *testing.T) {
	for _, c := range []struct {
		x, y string
		eq   bool
	}{
		{"1", "1.0", true}, {"3078908.6299999813", "3078908.63", true},
		{"0", "1e-12", true}, {"1", "1.001", false}, {"", "0", false},
		{"NaN", "NaN", true}, {"a", "b", false},
	} {
		if got := cellsEqual(c.x, c.y, 1e-9); got != c.eq {
			t.Errorf("cellsEqual(%q, %q) = %v, want %v", c.x, c.y, got, c.eq)
		}
	}
}
