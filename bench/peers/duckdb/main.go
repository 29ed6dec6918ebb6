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

// Queries are the benchmark queries by name; %s is the quoted CSV path.
// groupby is the end-to-end filter + group-by query; tumbling, sliding and
// session are the window comparisons of the streaming issue, over the event
// time ts: 1-minute tumbling windows per country, 5-minute windows sliding
// every minute per country, and sessions per user_id closed by a 5-minute
// gap (window_end = last event + gap, as Flink and Conveyor define it).
var Queries = map[string]string{
	"groupby": `SELECT country, category, count(*) AS n, sum(amount) AS amount_sum, avg(clicks) AS clicks_avg FROM read_csv(%s) WHERE amount > 10 GROUP BY country, category`,
	"tumbling": `SELECT time_bucket(INTERVAL '1 minute', ts) AS window_start, time_bucket(INTERVAL '1 minute', ts) + INTERVAL '1 minute' AS window_end, country, count(*) AS n, sum(amount) AS amount_sum
FROM read_csv(%s) GROUP BY ALL`,
	"sliding": `SELECT window_start, window_start + INTERVAL '5 minutes' AS window_end, country, count(*) AS n, sum(amount) AS amount_sum
FROM (SELECT unnest(generate_series(time_bucket(INTERVAL '1 minute', ts) - INTERVAL '4 minutes', time_bucket(INTERVAL '1 minute', ts), INTERVAL '1 minute')) AS window_start, country, amount FROM read_csv(%s))
GROUP BY ALL`,
	"session": `WITH e AS (
  SELECT user_id, ts, amount,
         CASE WHEN lag(ts) OVER w IS NULL OR ts - lag(ts) OVER w >= INTERVAL '5 minutes' THEN 1 ELSE 0 END AS starts
  FROM read_csv(%s) WINDOW w AS (PARTITION BY user_id ORDER BY ts)),
s AS (SELECT *, sum(starts) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM e)
SELECT min(ts) AS window_start, max(ts) + INTERVAL '5 minutes' AS window_end, user_id, count(*) AS n, sum(amount) AS amount_sum, min(ts) AS first_ts, max(ts) AS last_ts
FROM s GROUP BY user_id, sid`,
}

func main() {
	csvPath := flag.String("csv", "", "input CSV (the bench/gendata columns: ts,user_id,country,amount,category,clicks)")
	out := flag.String("out", "duckdb_out.csv", "output CSV written by COPY ... TO")
	threads := flag.Int("threads", runtime.NumCPU(), "DuckDB worker threads (SET threads)")
	memLimit := flag.String("memory-limit", "", "DuckDB memory_limit, e.g. 1GB (empty: DuckDB's default, 80% of RAM)")
	query := flag.String("query", "groupby", "benchmark query: groupby, tumbling, sliding or session")
	flag.Parse()
	if _, ok := Queries[*query]; !ok {
		fmt.Fprintf(os.Stderr, "duckdb: unknown -query %q\n", *query)
		os.Exit(2)
	}
	if *csvPath == "" {
		fmt.Fprintln(os.Stderr, "duckdb: -csv is required")
		flag.Usage()
		os.Exit(2)
	}
	if _, err := os.Stat(*csvPath); err != nil {
		fail(err)
	}
	start := time.Now()
	rows, version, err := run(context.Background(), Queries[*query], *csvPath, *out, *threads, *memLimit)
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
func run(ctx context.Context, query, csvPath, out string, threads int, memLimit string) (rows int64, version string, err error) {
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
	q := fmt.Sprintf(query, quote(csvPath))
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
