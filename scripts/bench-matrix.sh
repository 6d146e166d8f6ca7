#!/usr/bin/env bash
# bench-matrix.sh — run the BENCHMARKS.md load matrix against one target and
# print a markdown table: 1×1, 1×10, 4×50 and 16×100 closed loop, then open
# loop at a fraction (default 50 %) of the 4×50 median, each the median of
# --runs runs of `smppd bench --output json`.
#
# Target: either an SMPP server you started (pass bench flags after --), or
# the in-repo minimal responder, which the script starts and stops itself:
#
#   scripts/bench-matrix.sh --responder memory
#   scripts/bench-matrix.sh --responder fsync --receipts
#   scripts/bench-matrix.sh --label "smppd serve" --server-pid "$(pgrep -n smppd)" --receipts \
#       -- --addr 127.0.0.1:2775 --system-id "$ID" --password "$PW"
#
# Options:
#   --responder memory|fsync|memory-receipts|fsync-receipts   start the in-repo responder
#   --receipts        ask for a receipt per message (--registered-delivery) and report them
#   --runs N          runs per row (default 3); the table shows each metric's median
#   --duration D      per run (default 5s)
#   --warmup D        per run, left out of the figures (default 1s)
#   --matrix "BxW ..." closed-loop rows (default "1x1 1x10 4x50 16x100")
#   --open-frac F     open-loop row at F × the 4×50 median (default 0.5; 0 skips it)
#   --server-pid PID  report the server's CPU per message (from /proc/PID/stat)
#   --label TEXT      name of the target in the table
#   --json-dir DIR    keep every run's JSON there
# Needs: go (to build bin/smppd unless SMPPD points at a binary), jq, awk.
set -euo pipefail

cd "$(dirname "$0")/.."
SMPPD=${SMPPD:-}
runs=3 duration=5s warmup=1s matrix="1x1 1x10 4x50 16x100" open_frac=0.5
responder="" receipts=0 server_pid="" label="" json_dir=""
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --responder) responder=$2; shift 2 ;;
    --receipts) receipts=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --matrix) matrix=$2; shift 2 ;;
    --open-frac) open_frac=$2; shift 2 ;;
    --server-pid) server_pid=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --json-dir) json_dir=$2; shift 2 ;;
    --) shift; bench_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-matrix: unknown option $1 (bench flags go after --)" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "bench-matrix: needs jq (apt-get install jq)" >&2; exit 2; }

if [ -z "$SMPPD" ]; then
  SMPPD=bin/smppd
  go build -o "$SMPPD" ./cmd/smppd
fi
tmp=$(mktemp -d)
resp_pid=""
cleanup() {
  if [ -n "$resp_pid" ]; then kill "$resp_pid" 2>/dev/null || true; wait "$resp_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "$responder" ]; then
  resp_flags=()
  case "$responder" in
    memory) ;;
    fsync) resp_flags+=(--db "$tmp/responder.db") ;;
    memory-receipts) resp_flags+=(--receipts); receipts=1 ;;
    fsync-receipts) resp_flags+=(--db "$tmp/responder.db" --receipts); receipts=1 ;;
    *) echo "bench-matrix: --responder memory|fsync|memory-receipts|fsync-receipts" >&2; exit 2 ;;
  esac
  if [ "$receipts" = 1 ] && [[ "$responder" != *receipts ]]; then resp_flags+=(--receipts); fi
  "$SMPPD" bench responder --listen 127.0.0.1:0 "${resp_flags[@]}" >"$tmp/responder.out" 2>&1 &
  resp_pid=$!
  for _ in $(seq 50); do grep -q listening "$tmp/responder.out" && break; sleep 0.1; done
  addr=$(awk '/listening on/{print $4}' "$tmp/responder.out")
  [ -n "$addr" ] || { cat "$tmp/responder.out" >&2; exit 1; }
  bench_args=(--addr "$addr" --system-id bench --password bench "${bench_args[@]}")
  server_pid=$resp_pid
  label=${label:-"responder ($responder)"}
  [ "$receipts" = 1 ] && [[ "$responder" != *receipts ]] && label="responder ($responder-receipts)"
fi
label=${label:-target}
extra=()
[ "$receipts" = 1 ] && extra+=(--registered-delivery --wait-receipts 10s)
[ -n "$json_dir" ] && mkdir -p "$json_dir"

clk_tck=$(getconf CLK_TCK)
server_cpu_ticks() { # utime+stime of the server, in clock ticks
  [ -n "$server_pid" ] && [ -r "/proc/$server_pid/stat" ] || { echo 0; return; }
  awk '{print $14 + $15}' "/proc/$server_pid/stat"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) {print "";} else if (NR % 2) {print a[(NR+1)/2]} else {print (a[NR/2] + a[NR/2+1]) / 2}}'; }

# run_row NAME BINDS WINDOW [RATE]: runs the row $runs times and prints its table line.
run_row() {
  local name=$1 binds=$2 window=$3 rate=${4:-0} i f rows=()
  for i in $(seq "$runs"); do
    f="$tmp/${name}-${i}.json"
    local t0 t1
    if [ -n "$resp_pid" ] && ! kill -0 "$resp_pid" 2>/dev/null; then
      echo "bench-matrix: the responder (pid $resp_pid) is gone; its output:" >&2
      cat "$tmp/responder.out" >&2
      exit 1
    fi
    t0=$(server_cpu_ticks)
    if ! "$SMPPD" bench "${bench_args[@]}" "${extra[@]}" --binds "$binds" --window "$window" \
      --duration "$duration" --warmup "$warmup" --rate "$rate" --output json --progress never >"$f"; then
      echo "bench-matrix: run $i of ${binds}×${window} failed; left out of the medians" >&2
      continue
    fi
    t1=$(server_cpu_ticks)
    # server CPU µs per acked message (receipts included when asked)
    jq --argjson ticks "$((t1 - t0))" --argjson hz "$clk_tck" \
      '. + {server_cpu_us_per_msg: (if .acked > 0 and $ticks > 0 then ($ticks / $hz * 1e6 / .acked) else null end)}' \
      "$f" >"$f.x" && mv "$f.x" "$f"
    [ -n "$json_dir" ] && cp "$f" "$json_dir/"
    rows+=("$f")
  done
  if [ ${#rows[@]} -eq 0 ]; then
    printf '| %s | %s | %s | failed |||||||||| \n' "$label" "${binds}×${window}" "$([ "$rate" = 0 ] && echo closed || echo "open ${rate}/s")"
    return
  fi
  local m
  m() { jq -r "$1 // empty" "${rows[@]}" | median; }
  local errors
  errors=$(jq -r '([.errors[]] | add // 0) + .unanswered + ([.session_errors // {} | .[]] | add // 0)' "${rows[@]}" | median)
  local rps="" rp99="" srv=""
  if [ "$receipts" = 1 ]; then
    rps=$(m .receipts_per_s | xargs printf '%.0f')
    rp99=$(m .receipt_latency_us.p99 | xargs printf '%.0f')
  fi
  srv=$(m .server_cpu_us_per_msg)
  [ -n "$srv" ] && srv=$(printf '%.2f' "$srv")
  printf '| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %.2f | %s |\n' \
    "$label" "${binds}×${window}" "$([ "$rate" = 0 ] && echo closed || echo "open ${rate}/s")" \
    "$(m .msgs_per_s)" "$(m .latency_us.p50)" "$(m .latency_us.p99)" "$(m .latency_us.p999)" "$(m .latency_us.max)" \
    "${rps:--}" "${rp99:--}" "$errors" "$(m .client_cpu_us_per_msg)" "${srv:--}"
}

shown_args=() hide=0
for a in "${bench_args[@]}"; do # never print the password
  if [ "$hide" = 1 ]; then shown_args+=("PASSWORD"); hide=0; continue; fi
  case "$a" in --password) hide=1 ;; --password=*) a="--password=PASSWORD" ;; esac
  shown_args+=("$a")
done
echo "_$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); median of $runs runs of $duration (warmup $warmup): \`$SMPPD bench ${shown_args[*]} ${extra[*]} --binds B --window W --duration $duration --warmup $warmup [--rate R]\`_"
echo
echo "| target | binds×window | mode | msg/s | p50 µs | p99 µs | p99.9 µs | max µs | receipts/s | receipt p99 µs | errors+unanswered+lost sessions | gen CPU µs/msg | server CPU µs/msg |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
max450=""
for cell in $matrix; do
  b=${cell%x*} w=${cell#*x}
  line=$(run_row "c${b}x${w}" "$b" "$w")
  echo "$line"
  if [ "$cell" = 4x50 ]; then max450=$(echo "$line" | awk -F'|' '{gsub(/ /, "", $5); print $5}'); fi
done
if [ -n "$max450" ] && [ "$open_frac" != 0 ]; then
  rate=$(awk -v m="$max450" -v f="$open_frac" 'BEGIN {printf "%.0f", m * f}')
  run_row "o4x50" 4 50 "$rate"
fi
