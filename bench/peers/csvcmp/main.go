// Command csvcmp checks that two CSV files (with a header line) hold the same
// set of rows, so bench/peers.sh can confirm that Conveyor and its peers
// computed the same result:
//
//	csvcmp [-key country,category] [-tol 1e-9] a.csv b.csv
//
// Columns are matched by name (their order may differ); both files must have
// the same column names. Rows are matched on the -key columns (all columns
// that are not numbers, when -key is empty) and may come in any order. Cells
// that parse as numbers in both files are equal when
// |a-b| <= tol * max(1, |a|, |b|), so sums of floating-point numbers added in
// different orders agree; cells that parse as timestamps (RFC 3339, or
// DuckDB's "2006-01-02 15:04:05[.fff][+00]") are compared as instants; other
// cells must be equal strings. Exit status 0
// when the files agree, 1 when they differ (the first differences are
// printed), 2 on a usage or read error.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type table struct {
	header []string
	rows   [][]string
}

func main() {
	keyFlag := flag.String("key", "", "comma-separated key columns (default: the columns whose cells are not all numbers)")
	tol := flag.Float64("tol", 1e-9, "relative tolerance for numeric cells")
	maxDiffs := flag.Int("max", 10, "differences printed at most")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: csvcmp [-key a,b] [-tol 1e-9] a.csv b.csv")
		os.Exit(2)
	}
	a, err := load(flag.Arg(0))
	check(err)
	b, err := load(flag.Arg(1))
	check(err)
	var keys []string
	if *keyFlag != "" {
		keys = strings.Split(*keyFlag, ",")
	}
	diffs, err := compare(a, b, keys, *tol)
	check(err)
	if len(diffs) == 0 {
		fmt.Printf("csvcmp: agree (%d rows, %d columns)\n", len(a.rows), len(a.header))
		return
	}
	fmt.Printf("csvcmp: DIFFER (%d differences)\n", len(diffs))
	for i, d := range diffs {
		if i == *maxDiffs {
			fmt.Printf("  ... %d more\n", len(diffs)-i)
			break
		}
		fmt.Println("  " + d)
	}
	os.Exit(1)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "csvcmp:", err)
		os.Exit(2)
	}
}

func load(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	t := &table{header: header}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for i, c := range rec {
			rec[i] = canonTime(c)
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

// timeLayouts are the timestamp spellings the tools write.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999-0700",
}

// canonTime rewrites a timestamp cell as RFC 3339 in UTC, so that the same
// instant written differently compares equal (also as a key).
func canonTime(c string) string {
	if len(c) < 19 || c[4] != '-' || c[7] != '-' {
		return c
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, c); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return c
}

func isNum(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// compare returns a description of each difference between a and b.
func compare(a, b *table, keys []string, tol float64) ([]string, error) {
	// Column mapping by name.
	bIdx := map[string]int{}
	for i, h := range b.header {
		bIdx[h] = i
	}
	if len(a.header) != len(b.header) {
		return []string{fmt.Sprintf("columns differ: %v vs %v", a.header, b.header)}, nil
	}
	perm := make([]int, len(a.header)) // a column i -> b column perm[i]
	for i, h := range a.header {
		j, ok := bIdx[h]
		if !ok {
			return []string{fmt.Sprintf("columns differ: %v vs %v", a.header, b.header)}, nil
		}
		perm[i] = j
	}
	// Key columns (indexes in a).
	var keyCols []int
	if len(keys) == 0 {
		for i := range a.header {
			allNum := true
			for _, r := range a.rows {
				if r[i] != "" && !isNum(r[i]) {
					allNum = false
					break
				}
			}
			if !allNum {
				keyCols = append(keyCols, i)
			}
		}
	} else {
		for _, k := range keys {
			i := slices.Index(a.header, k)
			if i < 0 {
				return nil, fmt.Errorf("key column %q not in %v", k, a.header)
			}
			keyCols = append(keyCols, i)
		}
	}
	keyOf := func(r []string, m func(int) int) string {
		var sb strings.Builder
		for _, i := range keyCols {
			sb.WriteString(r[m(i)])
			sb.WriteByte(0)
		}
		return sb.String()
	}
	id := func(i int) int { return i }
	toB := func(i int) int { return perm[i] }
	show := func(k string) string { return strings.ReplaceAll(strings.TrimSuffix(k, "\x00"), "\x00", ",") }

	bRows := map[string][]string{}
	for _, r := range b.rows {
		k := keyOf(r, toB)
		if _, dup := bRows[k]; dup {
			return []string{fmt.Sprintf("duplicate key %s in the second file", show(k))}, nil
		}
		bRows[k] = r
	}
	var diffs []string
	seen := map[string]bool{}
	for _, ra := range a.rows {
		k := keyOf(ra, id)
		if seen[k] {
			diffs = append(diffs, fmt.Sprintf("duplicate key %s in the first file", show(k)))
			continue
		}
		seen[k] = true
		rb, ok := bRows[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("row %s only in the first file", show(k)))
			continue
		}
		for i, h := range a.header {
			x, y := ra[i], rb[perm[i]]
			if !cellsEqual(x, y, tol) {
				diffs = append(diffs, fmt.Sprintf("row %s column %s: %q vs %q", show(k), h, x, y))
			}
		}
	}
	for _, rb := range b.rows {
		if k := keyOf(rb, toB); !seen[k] {
			diffs = append(diffs, fmt.Sprintf("row %s only in the second file", show(k)))
		}
	}
	return diffs, nil
}

func cellsEqual(x, y string, tol float64) bool {
	if x == y {
		return true
	}
	fx, ex := strconv.ParseFloat(x, 64)
	fy, ey := strconv.ParseFloat(y, 64)
	if ex != nil || ey != nil {
		return false
	}
	if math.IsNaN(fx) || math.IsNaN(fy) {
		return math.IsNaN(fx) && math.IsNaN(fy)
	}
	return math.Abs(fx-fy) <= tol*max(1, math.Abs(fx), math.Abs(fy))
}
