// gen: deterministic synthetic event CSV for Conveyor peer benchmarks (stdlib only).
//
//	go run ./bench/gendata -rows 10000000 -o bench/data/events_10m.csv [-seed 42] [-format csv|ndjson]
//
// Columns: ts (RFC3339 UTC with ms, non-decreasing ~10ms apart, small jitter),
// user_id (int, 1..100000, mildly skewed), country (50 ISO codes, Zipf-like),
// amount (float, 2 decimals, lognormal, median ~20 -> ~75% have amount > 10),
// category (20 strings, Zipf-like), clicks (int 0..~30, Poisson-ish).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

var countries = []string{"US", "CN", "IN", "BR", "DE", "JP", "GB", "FR", "IT", "CA",
	"KR", "RU", "AU", "ES", "MX", "ID", "NL", "SA", "TR", "CH",
	"PL", "SE", "BE", "TH", "IE", "AR", "NO", "IL", "AT", "NG",
	"ZA", "DK", "SG", "MY", "PH", "EG", "VN", "BD", "CL", "FI",
	"RO", "CZ", "PT", "NZ", "PE", "GR", "IQ", "KZ", "HU", "UA"}

var categories = []string{"electronics", "books", "clothing", "home", "garden",
	"toys", "sports", "beauty", "grocery", "automotive",
	"music", "movies", "games", "health", "jewelry",
	"office", "pets", "shoes", "tools", "travel"}

// zipfCDF builds a cumulative distribution with weight 1/(i+1)^s.
func zipfCDF(n int, s float64) []float64 {
	c := make([]float64, n)
	sum := 0.0
	for i := 0; i < n; i++ {
		sum += 1 / math.Pow(float64(i+1), s)
		c[i] = sum
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

func pick(r *rand.Rand, cdf []float64) int {
	u := r.Float64()
	lo, hi := 0, len(cdf)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cdf[m] < u {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func main() {
	rows := flag.Int("rows", 10_000_000, "number of rows")
	out := flag.String("o", "-", "output file (- = stdout)")
	seed := flag.Uint64("seed", 42, "PRNG seed")
	format := flag.String("format", "csv", "csv or ndjson")
	flag.Parse()

	f := os.Stdout
	if *out != "-" {
		var err error
		f, err = os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
	}
	w := bufio.NewWriterSize(f, 1<<20)
	defer w.Flush()

	r := rand.New(rand.NewPCG(*seed, 0x9e3779b97f4a7c15))
	ccdf := zipfCDF(len(countries), 1.0)
	kcdf := zipfCDF(len(categories), 0.8)
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

	if *format == "csv" {
		w.WriteString("ts,user_id,country,amount,category,clicks\n")
	}
	buf := make([]byte, 0, 256)
	for i := 0; i < *rows; i++ {
		ts += int64(r.IntN(21)) // 0..20 ms, mean 10ms
		// mildly skewed user ids: squared uniform concentrates on low ids
		u := r.Float64()
		uid := 1 + int(u*u*0.5*100000+u*0.5*100000)
		if uid > 100000 {
			uid = 100000
		}
		amount := math.Exp(3 + r.NormFloat64())
		amount = math.Round(amount*100) / 100
		// Poisson-ish clicks via exponential-rounded
		clicks := int(-math.Log(1-r.Float64()) * 3)
		t := time.UnixMilli(ts).UTC()
		buf = buf[:0]
		if *format == "csv" {
			buf = t.AppendFormat(buf, "2006-01-02T15:04:05.000Z")
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(uid), 10)
			buf = append(buf, ',')
			buf = append(buf, countries[pick(r, ccdf)]...)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, amount, 'f', 2, 64)
			buf = append(buf, ',')
			buf = append(buf, categories[pick(r, kcdf)]...)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(clicks), 10)
			buf = append(buf, '\n')
		} else {
			buf = append(buf, `{"ts":"`...)
			buf = t.AppendFormat(buf, "2006-01-02T15:04:05.000Z")
			buf = append(buf, `","user_id":`...)
			buf = strconv.AppendInt(buf, int64(uid), 10)
			buf = append(buf, `,"country":"`...)
			buf = append(buf, countries[pick(r, ccdf)]...)
			buf = append(buf, `","amount":`...)
			buf = strconv.AppendFloat(buf, amount, 'f', 2, 64)
			buf = append(buf, `,"category":"`...)
			buf = append(buf, categories[pick(r, kcdf)]...)
			buf = append(buf, `","clicks":`...)
			buf = strconv.AppendInt(buf, int64(clicks), 10)
			buf = append(buf, "}\n"...)
		}
		w.Write(buf)
	}
}
