// Command duckdb runs Conveyor's end-to-end benchmark query on DuckDB (through
// github.com/duckdb/duckdb-go/v2, in process) so bench/peers.sh can compare
// against it:
//
//	SELECT country, category, count(*) AS n, sum(amount) AS amount_sum,
//	       avg(clicks) AS clicks_avg
//	FROM read_csv('<csv>') WHERE amount > 10 GROUP BY country, category
//
// The result is written with COPY ... TO '<out>' (CSV with a header), so the
// timing includes reading, aggregating and writing CSV, like the Conveyor
// pipeline examples/bench_groupby.toml. It prints one line:
//
//	duckdb v1.x.y rows=1000 wall_s=1.234 peak_rss_mb=205.3 threads=2
//
// wall_s is measured from opening the database to the end of the COPY; the
// peak RSS is the process's high-water mark (VmHWM in /proc/self/status, or
// getrusage's maxrss where /proc is missing).
//
// It needs cgo and a C/C++ toolchain (the DuckDB library is linked
// statically from github.com/duckdb/duckdb-go-bindings).
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// Query is the benchmark query; %s is the quoted CSV path.
const Query = `SELECT country, category, count(*) AS n, sum(amount) AS amount_sum, avg(clicks) AS clicks_avg FROM read_csv(%s) WHERE amount > 10 GROUP BY country, category`

func main() {
	csvPath := flag.String("csv", "", "input CSV (the bench/gendata columns: ts,user_id,country,amount,category,clicks)")
	out := flag.String("out", "duckdb_out.csv", "output CSV written by COPY ... TO")
	threads := flag.Int("threads", runtime.NumCPU(), "DuckDB worker threads (SET threads)")
	memLimit := flag.String("memory-limit", "", "DuckDB memory_limit, e.g. 1GB (empty: DuckDB's default, 80% of RAM)")
	flag.Parse()
	if *csvPath == "" {
		fmt.Fprintln(os.Stderr, "duckdb: -csv is required")
		flag.Usage()
		os.Exit(2)
	}
	if _, err := os.Stat(*csvPath); err != nil {
		fail(err)
	}
	start := time.Now()
	rows, version, err := run(context.Background(), *csvPath, *out, *threads, *memLimit)
	if err != nil {
		fail(err)
	}
	wall := time.Since(start)
	fmt.Printf("duckdb %s rows=%d wall_s=%.3f peak_rss_mb=%.1f threads=%d\n",
		version, rows, wall.Seconds(), float64(peakRSS())/(1<<20), *threads)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "duckdb:", err)
	os.Exit(1)
}

// run opens an in-memory database, sets the thread count and runs the COPY.
// It returns the number of rows written and DuckDB's version.
func run(ctx context.Context, csvPath, out string, threads int, memLimit string) (rows int64, version string, err error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	// One connection: SET applies to the connection's session.
	db.SetMaxOpenConns(1)
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&version); err != nil {
		return 0, "", fmt.Errorf("version: %w", err)
	}
	if threads > 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
			return 0, version, fmt.Errorf("set threads: %w", err)
		}
	}
	if memLimit != "" {
		if _, err := db.ExecContext(ctx, "SET memory_limit = "+quote(memLimit)); err != nil {
			return 0, version, fmt.Errorf("set memory_limit: %w", err)
		}
	}
	q := fmt.Sprintf(Query, quote(csvPath))
	copyStmt := fmt.Sprintf("COPY (%s) TO %s (FORMAT csv, HEADER true)", q, quote(out))
	res, err := db.ExecContext(ctx, copyStmt)
	if err != nil {
		return 0, version, fmt.Errorf("copy: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return -1, version, nil // the count is informative only
	}
	return n, version, nil
}

// quote makes a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// peakRSS returns the process's peak resident set size in bytes.
func peakRSS() int64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fields := strings.Fields(rest) // "205312 kB"
				if len(fields) > 0 {
					if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
						return kb << 10
					}
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		return ru.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}
