#!/usr/bin/env bash
# Peak memory of a CSV -> filter -> CSV run at growing input sizes: with
# bounded channels the peak RSS must stay flat while the input grows.
#
#   bench/rss.sh [rows...]        (default: 1000000 4000000 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/data
go build -o bench/data/conveyor ./cmd/conveyor
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 4000000 10000000)
printf '%-10s %-10s %-10s %-12s\n' rows MB seconds peak_RSS_MB
for n in "${sizes[@]}"; do
  f=bench/data/events_$n.csv
  [ -f "$f" ] || go run ./bench/gendata -rows "$n" -o "$f" -seed 42
  cat > bench/data/rss.toml <<TOML
[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "$f"
[[stages]]
id = "big"
function = "filter.apply"
inputs = ["load"]
[stages.config]
column = "amount"
operator = ">"
value = 10
[[stages]]
id = "out"
function = "csv.write"
inputs = ["big"]
[stages.config]
path = "bench/data/rss_out.csv"
TOML
  /usr/bin/time -f '%e %M' -o bench/data/time.txt bench/data/conveyor run --log-level error bench/data/rss.toml 2>/dev/null
  read -r secs kb < bench/data/time.txt
  printf '%-10s %-10s %-10s %-12s\n' "$n" "$(( $(stat -L -c %s "$f") / 1000000 ))" "$secs" "$(( kb / 1024 ))"
done
