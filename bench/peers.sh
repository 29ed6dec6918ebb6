#!/usr/bin/env bash
# Peer comparison of the end-to-end benchmark query
#
#   SELECT country, category, count(*) AS n, sum(amount) AS amount_sum,
#          avg(clicks) AS clicks_avg
#   FROM events WHERE amount > 10 GROUP BY country, category   -> CSV
#
# over the 10M-row file of bench/gendata (seed 42): Conveyor
# (examples/bench_groupby.toml), DuckDB (bench/peers/duckdb, a separate Go
# module that needs cgo and a C/C++ toolchain) and Polars (when python3 can
# import polars). Each tool runs RUNS times; the table shows the best wall
# time and the lowest peak RSS of its runs, and the ratios to DuckDB. Then
# every output is checked against the DuckDB one (or Polars' when DuckDB is
# missing): same rows, float columns within a relative 1e-9.
#
#   bench/peers.sh
#
# Environment: CONVEYOR_BENCH_CSV (input; default
# bench/data/events_10000000.csv, generated when missing), RUNS (default 3),
# THREADS (DuckDB threads; default all cores).
# Exit status: 0 when the outputs agree or a tool is skipped (no cgo, no
# Polars, groupby.apply not registered yet); 1 when a run fails or the
# outputs differ.
set -euo pipefail
cd "$(dirname "$0")/.."

csv=${CONVEYOR_BENCH_CSV:-bench/data/events_10000000.csv}
runs=${RUNS:-3}
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
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
if [ $have_conveyor = 0 ]; then
  :
elif "$out/conveyor" validate examples/bench_groupby.toml >"$out/conveyor_validate.log" 2>&1; then
  CONVEYOR_BENCH_CSV=$csv_abs CONVEYOR_BENCH_OUT=$out/conveyor_out.csv \
    bench conveyor "$out/conveyor" run --log-level error examples/bench_groupby.toml
else
  echo "conveyor: skipped: examples/bench_groupby.toml does not validate:"
  sed 's/^/  /' "$out/conveyor_validate.log"
fi
if [ $have_duckdb = 1 ]; then
  bench duckdb "$out/duckdb" -csv "$csv_abs" -out "$out/duckdb_out.csv" -threads "$threads"
fi
if [ $have_polars = 1 ]; then
  cat >"$out/polars_query.py" <<'PY'
import sys
import polars as pl

src, dst = sys.argv[1], sys.argv[2]
(pl.scan_csv(src)
   .filter(pl.col("amount") > 10)
   .group_by(["country", "category"])
   .agg(pl.len().alias("n"),
        pl.col("amount").sum().alias("amount_sum"),
        pl.col("clicks").mean().alias("clicks_avg"))
   .collect()
   .write_csv(dst))
PY
  bench polars python3 "$out/polars_query.py" "$csv_abs" "$out/polars_out.csv"
fi

# --- table -----------------------------------------------------------------
echo
echo "$(basename "$csv"), best of $runs runs, $threads DuckDB threads"
printf '%-10s %8s %9s %13s %13s\n' tool "wall s" "peak MB" "time/DuckDB" "mem/DuckDB"
for t in "${tools[@]}"; do
  rt=-; rm=-
  if [ -n "${best_wall[duckdb]:-}" ]; then
    rt=$(awk -v a="${best_wall[$t]}" -v b="${best_wall[duckdb]}" 'BEGIN {printf "%.2f", a / b}')
    rm=$(awk -v a="${best_kb[$t]}" -v b="${best_kb[duckdb]}" 'BEGIN {printf "%.2f", a / b}')
  fi
  printf '%-10s %8s %9s %13s %13s\n' "$t" "${best_wall[$t]}" "$((best_kb[$t] / 1024))" "$rt" "$rm"
done

# --- do the outputs agree? -------------------------------------------------
ref=
for t in duckdb polars conveyor; do
  if [ -n "${best_wall[$t]:-}" ]; then ref=$t; break; fi
done
echo
if [ ${#tools[@]} -lt 2 ]; then
  echo "outputs: fewer than two tools ran; nothing to compare"
fi
for t in "${tools[@]}"; do
  [ "$t" = "$ref" ] && continue
  printf '%s vs %s: ' "$t" "$ref"
  if ! "$out/csvcmp" -key country,category "$out/${t}_out.csv" "$out/${ref}_out.csv"; then
    status=1
  fi
done
exit $status
