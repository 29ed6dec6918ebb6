#!/usr/bin/env bash
# Peer comparisons over the 10M-row file of bench/gendata (seed 42), event
# time ts. Queries (QUERIES picks some; default all four):
#
#   groupby   SELECT country, category, count(*) AS n, sum(amount) AS amount_sum,
#                    avg(clicks) AS clicks_avg
#             FROM events WHERE amount > 10 GROUP BY country, category
#   tumbling  1-minute tumbling windows per country: count, sum(amount)
#   sliding   5-minute windows sliding every minute per country: count, sum(amount)
#   session   sessions per user_id closed by a 5-minute gap: count, sum(amount),
#             first and last ts
#
# Conveyor runs examples/bench_<query>.toml; DuckDB runs bench/peers/duckdb
# -query <query> (a separate Go module that needs cgo and a C/C++
# toolchain); Polars runs when python3 can import polars. Each tool runs
# RUNS times; the table shows the best wall time and the lowest peak RSS of
# its runs, and the ratios to DuckDB. Then every output is checked against
# the DuckDB one (or Polars' when DuckDB is missing): same rows, float
# columns within a relative 1e-9, timestamps compared as instants.
#
#   bench/peers.sh
#   QUERIES="tumbling session" RUNS=1 bench/peers.sh
#
# Environment: CONVEYOR_BENCH_CSV (input; default
# bench/data/events_10000000.csv, generated when missing), RUNS (default 3),
# THREADS (DuckDB threads; default all cores), QUERIES.
# Exit status: 0 when the outputs agree or a tool is skipped (no cgo, no
# Polars); 1 when a run fails or the outputs differ.
set -euo pipefail
cd "$(dirname "$0")/.."

csv=${CONVEYOR_BENCH_CSV:-bench/data/events_10000000.csv}
runs=${RUNS:-3}
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
queries=${QUERIES:-groupby tumbling sliding session}
out=bench/data/peers
mkdir -p "$out"
status=0

# --- which peers can run ---------------------------------------------------
have_duckdb=1
if [ "$(go env CGO_ENABLED)" != 1 ]; then
  echo "duckdb: skipped: cgo is disabled (go env CGO_ENABLED is not 1)"
  have_duckdb=0
elif ! command -v "$(go env CC)" >/dev/null 2>&1 || ! command -v "$(go env CXX)" >/dev/null 2>&1; then
  echo "duckdb: skipped: no C/C++ toolchain ($(go env CC) / $(go env CXX) not found)"
  have_duckdb=0
fi
have_polars=0
if command -v python3 >/dev/null 2>&1 && python3 -c 'import polars' 2>/dev/null; then
  have_polars=1
else
  echo "polars: skipped: python3 cannot import polars"
fi
if [ $have_duckdb = 0 ] && [ $have_polars = 0 ]; then
  echo "no peer available: nothing to compare with; skipping"
  exit 0
fi

# --- input and binaries ----------------------------------------------------
if [ ! -f "$csv" ]; then
  echo "generating $csv (10M rows, ~500 MB)"
  mkdir -p "$(dirname "$csv")"
  go run ./bench/gendata -rows 10000000 -o "$csv" -seed 42
fi
csv_abs=$(cd "$(dirname "$csv")" && pwd)/$(basename "$csv")
have_conveyor=1
if ! go build -o "$out/conveyor" ./cmd/conveyor >"$out/conveyor_build.log" 2>&1; then
  echo "conveyor: skipped: build failed (see $out/conveyor_build.log):"
  tail -5 "$out/conveyor_build.log"
  have_conveyor=0
  status=1
fi
(cd bench/peers && CGO_ENABLED=0 go build -o ../data/peers/csvcmp ./csvcmp)
if [ $have_duckdb = 1 ]; then
  echo "building bench/peers/duckdb (cgo; the first build takes a minute)"
  if ! (cd bench/peers && go build -o ../data/peers/duckdb ./duckdb) >"$out/duckdb_build.log" 2>&1; then
    echo "duckdb: skipped: build failed (see $out/duckdb_build.log):"
    tail -5 "$out/duckdb_build.log"
    have_duckdb=0
  fi
fi

# measure NAME CMD...: runs CMD with its output in $out/NAME.log and sets
# wall (seconds) and peak_kb. /usr/bin/time -v when present, else the
# clock and a poll of VmHWM in /proc/PID/status.
measure() {
  local name=$1; shift
  if [ -x /usr/bin/time ]; then
    if ! /usr/bin/time -v -o "$out/$name.time" "$@" >"$out/$name.log" 2>&1; then
      return 1
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$out/$name.time")
    peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/$name.time")
  else
    local t0 t1 pid hwm rc=0
    t0=$(date +%s.%N)
    "$@" >"$out/$name.log" 2>&1 &
    pid=$!
    peak_kb=0
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$hwm" ] && [ "$hwm" -gt "$peak_kb" ] && peak_kb=$hwm
      sleep 0.02
    done
    wait "$pid" || rc=$?
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    return $rc
  fi
}

# bench NAME CMD...: RUNS runs; sets best_wall[NAME], best_kb[NAME].
declare -A best_wall best_kb
tools=()
bench() {
  local name=$1; shift
  local i
  for ((i = 1; i <= runs; i++)); do
    if ! measure "$name" "$@"; then
      echo "$name: run $i failed (see $out/$name.log):"
      tail -5 "$out/$name.log"
      status=1
      return 0
    fi
    echo "$name run $i: ${wall} s, $((peak_kb / 1024)) MB"
    if [ -z "${best_wall[$name]:-}" ] || awk -v a="$wall" -v b="${best_wall[$name]}" 'BEGIN {exit !(a < b)}'; then
      best_wall[$name]=$wall
    fi
    if [ -z "${best_kb[$name]:-}" ] || [ "$peak_kb" -lt "${best_kb[$name]}" ]; then
      best_kb[$name]=$peak_kb
    fi
  done
  tools+=("$name")
}

# --- runs ------------------------------------------------------------------
# polars_query Q: the Polars program of query Q on stdout.
polars_query() {
  cat <<'PY'
import sys
import polars as pl

src, dst, q = sys.argv[1], sys.argv[2], sys.argv[3]
df = pl.scan_csv(src, try_parse_dates=True)
aggs = [pl.len().alias("n"), pl.col("amount").sum().alias("amount_sum")]
if q == "groupby":
    out = (df.filter(pl.col("amount") > 10)
             .group_by(["country", "category"])
             .agg(pl.len().alias("n"),
                  pl.col("amount").sum().alias("amount_sum"),
                  pl.col("clicks").mean().alias("clicks_avg")))
elif q == "tumbling":
    out = (df.group_by(pl.col("ts").dt.truncate("1m").alias("window_start"), "country")
             .agg(aggs)
             .with_columns((pl.col("window_start") + pl.duration(minutes=1)).alias("window_end")))
elif q == "sliding":
    out = (pl.concat([df.select((pl.col("ts").dt.truncate("1m") - pl.duration(minutes=k)).alias("window_start"),
                                "country", "amount") for k in range(5)])
             .group_by("window_start", "country")
             .agg(aggs)
             .with_columns((pl.col("window_start") + pl.duration(minutes=5)).alias("window_end")))
elif q == "session":
    gap = pl.duration(minutes=5)
    out = (df.sort("user_id", "ts")
             .with_columns(((pl.col("ts") - pl.col("ts").shift(1).over("user_id")) >= gap)
                           .fill_null(True).cast(pl.Int64).cum_sum().over("user_id").alias("sid"))
             .group_by("user_id", "sid")
             .agg(aggs + [pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts")])
             .with_columns(pl.col("first_ts").alias("window_start"), (pl.col("last_ts") + gap).alias("window_end"))
             .drop("sid"))
out.collect().write_csv(dst)
PY
}

# keys_of Q: the key columns csvcmp matches rows on.
keys_of() {
  case $1 in
    groupby) echo country,category ;;
    tumbling | sliding) echo window_start,country ;;
    session) echo user_id,window_start ;;
  esac
}

# run_query Q: every tool on query Q, the table, and the output check.
run_query() {
  local q=$1 t ref rt rm
  best_wall=(); best_kb=(); tools=()
  echo
  echo "=== $q"
  if [ $have_conveyor = 0 ]; then
    :
  elif "$out/conveyor" validate "examples/bench_$q.toml" >"$out/conveyor_validate.log" 2>&1; then
    CONVEYOR_BENCH_CSV=$csv_abs CONVEYOR_BENCH_OUT=$out/conveyor_${q}_out.csv \
      bench "conveyor_$q" "$out/conveyor" run --log-level error "examples/bench_$q.toml"
  else
    echo "conveyor: skipped: examples/bench_$q.toml does not validate:"
    sed 's/^/  /' "$out/conveyor_validate.log"
  fi
  if [ $have_duckdb = 1 ]; then
    bench "duckdb_$q" "$out/duckdb" -query "$q" -csv "$csv_abs" -out "$out/duckdb_${q}_out.csv" -threads "$threads"
  fi
  if [ $have_polars = 1 ]; then
    polars_query >"$out/polars_query.py"
    bench "polars_$q" python3 "$out/polars_query.py" "$csv_abs" "$out/polars_${q}_out.csv" "$q"
  fi

  echo
  echo "$q over $(basename "$csv"), best of $runs runs, $threads DuckDB threads"
  printf '%-10s %8s %9s %13s %13s\n' tool "wall s" "peak MB" "time/DuckDB" "mem/DuckDB"
  for t in "${tools[@]}"; do
    rt=-; rm=-
    if [ -n "${best_wall[duckdb_$q]:-}" ]; then
      rt=$(awk -v a="${best_wall[$t]}" -v b="${best_wall[duckdb_$q]}" 'BEGIN {printf "%.2f", a / b}')
      rm=$(awk -v a="${best_kb[$t]}" -v b="${best_kb[duckdb_$q]}" 'BEGIN {printf "%.2f", a / b}')
    fi
    printf '%-10s %8s %9s %13s %13s\n' "${t%_"$q"}" "${best_wall[$t]}" "$((best_kb[$t] / 1024))" "$rt" "$rm"
  done

  ref=
  for t in duckdb polars conveyor; do
    if [ -n "${best_wall[${t}_$q]:-}" ]; then ref=$t; break; fi
  done
  if [ ${#tools[@]} -lt 2 ]; then
    echo "outputs: fewer than two tools ran; nothing to compare"
  fi
  for t in "${tools[@]}"; do
    t=${t%_"$q"}
    [ "$t" = "$ref" ] && continue
    printf '%s vs %s: ' "$t" "$ref"
    if ! "$out/csvcmp" -key "$(keys_of "$q")" "$out/${t}_${q}_out.csv" "$out/${ref}_${q}_out.csv"; then
      status=1
    fi
  done
}

for q in $queries; do
  run_query "$q"
done
exit $status
