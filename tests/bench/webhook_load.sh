#!/usr/bin/env bash
# Load benchmark of the whole inbound pipeline (secret check, parse, dedupe, lead upsert, event)
# with wrk over keep-alive connections, on SQLite and on MariaDB.
#
#   tests/bench/webhook_load.sh [sqlite|mysql|both] [seconds] [connections]
#
# Prints accepted events/s, p50/p99 latency, the service's CPU time per event and its peak RSS.
# Needs: deploy/install-deps.sh --bench, and a Release build (deploy/build.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
which_db="${1:-both}"
seconds="${2:-20}"
conns="${3:-64}"
bin="${LEADHATCH_BIN:-build/bin/leadhatch}"
[ -x "$bin" ] || { echo "build first: deploy/build.sh" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk missing: deploy/install-deps.sh --bench" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/leadhatch-bench.XXXXXX")"
db_started=""
cleanup() {
  [ -n "${svc_pid:-}" ] && kill "$svc_pid" 2>/dev/null && wait "$svc_pid" 2>/dev/null || true
  [ -n "$db_started" ] && bash deploy/mariadb.sh stop "$work/mariadb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

run_one() {
  local kind="$1" url="$2"
  local port=$(( 30000 + RANDOM % 20000 ))
  cat > "$work/config.json" <<JSON
{
  "server": { "listen": "127.0.0.1:${port}", "threads": 2, "max_connections": 4096 },
  "storage": { "url": "${url}", "pool_size": 4 },
  "templates_dir": "$(pwd)/templates",
  "logging": { "level": "warn" },
  "channels": [ { "id": "tg-bench", "platform": "telegram", "bot_token": "1:bench", "secret_token": "bench-secret",
                  "api_base": "http://127.0.0.1:9" } ]
}
JSON
  "$bin" serve --config "$work/config.json" 2>"$work/service.log" &
  svc_pid=$!
  # Ready when it accepts connections (at log level warn it does not say "listening on").
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null && break
    sleep 0.1
  done
  # Warm up (creates the first leads, fills caches), then measure.
  wrk -t2 -c"$conns" -d3s -s tests/bench/telegram_updates.lua "http://127.0.0.1:${port}" >/dev/null
  local hz ticks0 ticks1 accepted0 accepted1
  hz=$(getconf CLK_TCK)
  ticks0=$(awk '{print $14 + $15}' "/proc/$svc_pid/stat")
  accepted0=$(curl_metric "$port")
  local out
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency -s tests/bench/telegram_updates.lua "http://127.0.0.1:${port}")
  ticks1=$(awk '{print $14 + $15}' "/proc/$svc_pid/stat")
  accepted1=$(curl_metric "$port")
  local rss_kb anon_kb
  rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$svc_pid/status")
  anon_kb=$(awk '/RssAnon/ {print $2}' "/proc/$svc_pid/status")
  kill "$svc_pid"; wait "$svc_pid" 2>/dev/null || true
  svc_pid=""
  local result events cpu_us
  result=$(echo "$out" | grep '^RESULT')
  events=$(( accepted1 - accepted0 ))
  cpu_us=$(awk -v t=$(( ticks1 - ticks0 )) -v hz="$hz" -v n="$events" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')
  local per_s
  per_s=$(awk -v n="$events" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')
  echo "${kind}: committed_events=${events} committed_per_s=${per_s} cpu_us_per_event=${cpu_us} peak_rss_mb=$(( rss_kb / 1024 )) heap_rss_mb=$(( anon_kb / 1024 )) ${result#RESULT }"
}

# Deliveries committed, read from the service's own /metrics (bash's /dev/tcp: no curl needed).
curl_metric() {
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  awk '/^leadhatch_ingest_committed_total/ {print $2}' <&3
  exec 3<&-
}

if [ "$which_db" = sqlite ] || [ "$which_db" = both ]; then
  run_one sqlite "sqlite:${work}/bench.db"
fi
if [ "$which_db" = mysql ] || [ "$which_db" = both ]; then
  if [ -z "${LEADHATCH_TEST_MYSQL_URL:-}" ]; then
    bash deploy/mariadb.sh start "$work/mariadb" >/dev/null
    db_started=1
    # shellcheck disable=SC1091
    source "$work/mariadb/env"
  fi
  run_one mysql "$LEADHATCH_TEST_MYSQL_URL"
fi
