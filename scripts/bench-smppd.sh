#!/usr/bin/env bash
# bench-smppd.sh — the `smppd serve` rows of BENCHMARKS.md, end to end: a fresh
# data directory, a test-mode SMPP token, `smppd serve` on a loopback port
# (durable store, receipts on), then scripts/bench-matrix.sh with receipts
# and the server's CPU per message, and optionally the idle-session memory and
# bind rate. Prints markdown; stops the server and removes the data at exit.
#
#   scripts/bench-smppd.sh                      # matrix, 3 runs × 5 s per row
#   scripts/bench-smppd.sh --idle "5000 10000"  # plus RSS per idle session and bind rate
#   scripts/bench-smppd.sh --serve-args "--log-level warn" -- --runs 1 --duration 3s
#
# Options (before --): --idle "N ...", --idle-duration D (default 20s),
# --serve-args "ARGS" (extra flags for smppd serve), --no-matrix.
# After --: options for scripts/bench-matrix.sh (--runs, --duration, --matrix ...).
# The CPU profile of a run: curl -o cpu.prof "http://$HTTP/debug/pprof/profile?seconds=5"
# while it runs (the script prints $HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
SMPPD=${SMPPD:-}
idle="" idle_duration=20s serve_args="" matrix=1 matrix_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --idle) idle=$2; shift 2 ;;
    --idle-duration) idle_duration=$2; shift 2 ;;
    --serve-args) serve_args=$2; shift 2 ;;
    --no-matrix) matrix=0; shift ;;
    --) shift; matrix_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-smppd: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "bench-smppd: needs jq (apt-get install jq)" >&2; exit 2; }
if [ -z "$SMPPD" ]; then
  SMPPD=bin/smppd
  go build -o "$SMPPD" ./cmd/smppd
fi
SMPPD=$(cd "$(dirname "$SMPPD")" && pwd)/$(basename "$SMPPD")

data=$(mktemp -d)
export SMPPD_DATA_DIR=$data
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

"$SMPPD" token create --name bench --smpp --test --output json >"$data/token.json" 2>/dev/null
id=$(jq -r .system_id "$data/token.json")
pw=$(jq -r .password "$data/token.json")

# Loopback ports chosen by the kernel; the server logs where it listens.
# shellcheck disable=SC2086
"$SMPPD" serve --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --max-conns 0 --max-conns-per-ip 0 \
  $serve_args >"$data/serve.log" 2>&1 &
serve_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(grep -m1 -o 'msg="smppd serving" listen=[0-9.:]*' "$data/serve.log" | sed 's/.*listen=//' || true)
  [ -n "$addr" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$data/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "bench-smppd: no listen address in the server log" >&2; cat "$data/serve.log" >&2; exit 1; }
http=$(grep -m1 -o 'http_listen=[0-9.:]*' "$data/serve.log" | sed 's/.*=//' || true)
echo "_smppd serve (pid $serve_pid) on $addr, http ${http:-none}, test-mode token ${id}_"
echo

if [ "$matrix" = 1 ]; then
  SMPPD=$SMPPD scripts/bench-matrix.sh --label "smppd serve" --server-pid "$serve_pid" --receipts "${matrix_args[@]}" \
    -- --addr "$addr" --system-id "$id" --password "$pw"
fi

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status"; }
if [ -n "$idle" ]; then
  echo
  echo "| idle binds | bind s | binds/s | server RSS before MiB | server RSS bound MiB | KiB per session |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for n in $idle; do
    sleep 2 # let sessions of the previous step go
    base=$(rss_kib)
    "$SMPPD" bench --addr "$addr" --system-id "$id" --password "$pw" --binds "$n" --idle \
      --duration "$idle_duration" --output json --progress never >"$data/idle-$n.json" &
    bench_pid=$!
    peak=$base
    while kill -0 "$bench_pid" 2>/dev/null; do
      r=$(rss_kib); [ "$r" -gt "$peak" ] && peak=$r
      sleep 0.5
    done
    wait "$bench_pid"
    jq -r --argjson n "$n" --argjson base "$base" --argjson peak "$peak" \
      '"| \($n) | \(.bind_s) | \(.binds_per_s | floor) | \($base / 1024 | floor) | \($peak / 1024 | floor) | \((($peak - $base) / $n * 10 | floor) / 10) |"' \
      "$data/idle-$n.json"
  done
fi
