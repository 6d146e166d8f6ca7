#!/usr/bin/env bash
# bench-callbacks.sh — the "HTTP callbacks and the SMPP path" rows of BENCHMARKS.md:
# what turning a token's callback URL on costs the SMPP path. A fresh data directory,
# three test-mode tokens ("plain"; "hooked" with a callback URL pointing at
# internal/callback/cbsink on this machine; "hung" with one pointing at a cbsink that
# never answers), `smppd serve` (durable store), then `smppd bench --binds 4 --window 50
# --registered-delivery` runs with the tokens named, each after the callback queue
# drained. Prints one line per run: throughput, submit latency, SMPP receipts missing,
# smppd's and the receiver's CPU per message (drain included), the store's commits, and
# reports per callback POST.
# Stops everything at exit.
#
#   scripts/bench-callbacks.sh                          # plain, hooked, closed loop, twice
#   scripts/bench-callbacks.sh plain:15000 hooked:15000 # open loop at 15,000 msg/s
#   scripts/bench-callbacks.sh plain hooked hung        # and with a receiver that hangs
#   SINK_ARGS=-count-only scripts/bench-callbacks.sh    # receiver that checks nothing (nearly free)
#   RECEIPTS=no scripts/bench-callbacks.sh              # no registered_delivery: no SMPP receipts
#
# "hung" runs go last: their reports stay queued (retried for a day), so the queue
# never drains again; their CPU per message leaves out the retries to come.
#
# Environment: SMPPD (binary; default: built into a temporary directory),
# SERVE_ARGS (extra flags for smppd serve), SINK_ARGS (extra flags for cbsink),
# DURATION (per run, default 8s), RECEIPTS (yes, or no for none over SMPP).
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(plain hooked plain hooked)
tmp=$(mktemp -d)
SMPPD=${SMPPD:-}
if [ -z "$SMPPD" ]; then
  go build -o "$tmp/smppd" ./cmd/smppd
  SMPPD=$tmp/smppd
fi
go build -o "$tmp/cbsink" ./internal/callback/cbsink
data=$tmp/data smpp=127.0.0.1:27890 http=127.0.0.1:27891 sink=127.0.0.1:28180 hungsink=127.0.0.1:28181
hung_seen=""
for r in "${runs[@]}"; do
  case ${r%%:*} in
    hung) hung_seen=1 ;;
    plain|hooked) [ -z "$hung_seen" ] || { echo "bench-callbacks: \"hung\" runs go last" >&2; exit 2; } ;;
    *) echo "bench-callbacks: unknown run \"$r\" (plain, hooked, hung, optionally :RATE)" >&2; exit 2 ;;
  esac
done
rd=--registered-delivery
case ${RECEIPTS:-yes} in yes) ;; no) rd="" ;; *) echo "bench-callbacks: RECEIPTS is yes or no" >&2; exit 2 ;; esac
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
plain=$("$SMPPD" token create --data-dir "$data" --name plain --smpp --test --output json 2>/dev/null)
hooked=$("$SMPPD" token create --data-dir "$data" --name hooked --smpp --test \
  --callback-url "http://$sink/dlr" --output json 2>/dev/null)
hung=$("$SMPPD" token create --data-dir "$data" --name hung --smpp --test \
  --callback-url "http://$hungsink/dlr" --output json 2>/dev/null)
"$tmp/cbsink" -listen "$sink" -secret "$(field callback_secret <<<"$hooked")" ${SINK_ARGS:-} 2>"$tmp/cbsink.log" &
sinkpid=$!; pids+=("$sinkpid")
"$tmp/cbsink" -listen "$hungsink" -secret "$(field callback_secret <<<"$hung")" -delay 24h 2>/dev/null &
pids+=("$!")
# shellcheck disable=SC2086
"$SMPPD" serve --data-dir "$data" --listen "$smpp" --http-listen "$http" ${SERVE_ARGS:-} >"$tmp/serve.log" 2>&1 &
srvpid=$!; pids+=("$srvpid")
for _ in $(seq 50); do curl -sf "http://$http/readyz" >/dev/null && break; sleep 0.1; done

metric() { curl -s "http://$http/metrics" | awk -v m="$1" '$1 == m || index($1, m"{") == 1 {s += $2} END {printf "%.6f", s}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
drain() {
  [ -z "${hung_ran:-}" ] || return 0 # that backlog stays
  for _ in $(seq 600); do
    [ "$(metric smppd_callbacks_pending)" = "0.000000" ] && return
    sleep 0.2
  done
  echo "bench-callbacks: callback queue not drained" >&2
}

for r in "${runs[@]}"; do
  name=${r%%:*} rate=""
  [[ $r == *:* ]] && rate="--rate ${r#*:}"
  case $name in plain) tok=$plain ;; hooked) tok=$hooked ;; hung) tok=$hung ;; esac
  drain
  s0=$(ticks "$srvpid") k0=$(ticks "$sinkpid") m0=$(metric smppd_submits_total)
  c0=$(metric smppd_store_commit_batch_size_count) a0=$(metric smppd_callback_attempts_total)
  # shellcheck disable=SC2086
  "$SMPPD" bench --addr "$smpp" --system-id "$(field system_id <<<"$tok")" --password "$(field password <<<"$tok")" \
    --binds 4 --window 50 $rate --duration "${DURATION:-8s}" --warmup 1s $rd --output json >"$tmp/run.json"
  if [ "$name" = hung ]; then hung_ran=1; else drain; fi
  s1=$(ticks "$srvpid") k1=$(ticks "$sinkpid") m1=$(metric smppd_submits_total)
  c1=$(metric smppd_store_commit_batch_size_count) a1=$(metric smppd_callback_attempts_total)
  python3 - "$tmp/run.json" "$r" "$((s1 - s0))" "$((k1 - k0))" "$m0" "$m1" "$c0" "$c1" "$a0" "$a1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
name, sc, kc = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n = max(1, round(float(sys.argv[6]) - float(sys.argv[5])))
commits = round(float(sys.argv[8]) - float(sys.argv[7]))
posts = round(float(sys.argv[10]) - float(sys.argv[9]))
tick_us = 1e6 / 100  # /proc CPU ticks (USER_HZ 100)
print("%-14s %7.0f msg/s  submit p50 %5.2f ms p99 %6.2f ms  receipts missing %d  smppd %5.1f µs/msg  receiver %4.1f µs/msg  %.0f msgs/commit%s"
      % (name, d["msgs_per_s"], d["latency_us"]["p50"] / 1e3, d["latency_us"]["p99"] / 1e3, d["receipts_missing"],
         sc * tick_us / n, kc * tick_us / n, n / max(1, commits),
         "  %.1f reports/POST" % (n / posts) if posts and name.startswith("hooked") else ""))
PY
done
kill "$sinkpid"; wait "$sinkpid" 2>/dev/null || true # prints its totals: valid, bad_signature, duplicate
