package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// TestRunReportExample runs examples/report.toml (expression filter, join,
// computed columns, groupby, sort, limit, anti join) and checks it against
// the same report computed here, row by row, from the CSV files.
func TestRunReportExample(t *testing.T) {
	dir := workdir(t)
	r := conveyor(t, dir, nil, "run", "examples/report.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	segment := map[string]string{}
	for _, c := range readCSV(t, filepath.Join(dir, "examples/data/customers.csv")) {
		segment[c["customer"]] = c["segment"]
	}
	type group struct {
		orders    int
		revenue   float64
		values    []float64
		customers map[string]bool
	}
	groups := map[[2]string]*group{}
	unknown := 0
	cut := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, o := range readCSV(t, filepath.Join(dir, "examples/data/sales.csv")) {
		ts, _ := time.Parse(time.RFC3339, o["ts"])
		qty, _ := strconv.Atoi(o["qty"])
		amount, _ := strconv.ParseFloat(o["amount"], 64)
		if ts.Before(cut) || qty <= 0 || o["category"] == "toys" {
			continue
		}
		seg, ok := segment[o["customer"]]
		if !ok {
			unknown++
			continue
		}
		k := [2]string{seg, o["country"]}
		g := groups[k]
		if g == nil {
			g = &group{customers: map[string]bool{}}
			groups[k] = g
		}
		rev := math.Round(amount*float64(qty)*100) / 100
		g.orders++
		g.revenue += rev
		g.values = append(g.values, rev)
		g.customers[o["customer"]] = true
	}
	type row struct {
		seg, country string
		g            *group
	}
	var rows []row
	for k, g := range groups {
		rows = append(rows, row{k[0], k[1], g})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].g.revenue != rows[j].g.revenue {
			return rows[i].g.revenue > rows[j].g.revenue
		}
		return rows[i].country < rows[j].country
	})
	rows = rows[:min(10, len(rows))]
	got := readCSV(t, filepath.Join(dir, "examples/out/report.csv"))
	if len(got) != len(rows) || len(rows) < 5 {
		t.Fatalf("%d report rows, want %d", len(got), len(rows))
	}
	for i, w := range rows {
		g := got[i]
		vals := append([]float64(nil), w.g.values...)
		sort.Float64s(vals)
		med := vals[len(vals)/2]
		if len(vals)%2 == 0 {
			med = (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2
		}
		rev, _ := strconv.ParseFloat(g["revenue"], 64)
		gm, _ := strconv.ParseFloat(g["median_order"], 64)
		if g["segment"] != w.seg || g["country"] != w.country || g["orders"] != strconv.Itoa(w.g.orders) ||
			g["customers"] != strconv.Itoa(len(w.g.customers)) || math.Abs(rev-w.g.revenue) > 0.0051 || math.Abs(gm-med) > 0.0051 {
			t.Errorf("row %d: got %v, want %s %s orders=%d revenue=%.4f median=%.4f customers=%d", i, g, w.seg, w.country, w.g.orders, w.g.revenue, med, len(w.g.customers))
		}
	}
	lines := readLines(t, filepath.Join(dir, "examples/out/unknown_customers.jsonl"))
	if len(lines) != unknown || unknown == 0 || !strings.Contains(lines[0], `"customer":"cust-0`) {
		t.Errorf("%d unknown-customer rows, want %d", len(lines), unknown)
	}
}
