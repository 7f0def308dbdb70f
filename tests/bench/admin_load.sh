#!/usr/bin/env bash
# The admin API on a large data set: filtered lists, the funnel and a CSV export, over HTTP,
# on SQLite and on MariaDB.
#
#   tests/bench/admin_load.sh [sqlite|mysql|both] [leads] [events-per-lead]
#
# Defaults: both, 1,000,000 leads, 10 events each (10,000,000 events). Needs a Release build
# (deploy/build.sh) and, for MariaDB, deploy/install-deps.sh --bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
which_db="${1:-both}"
leads="${2:-1000000}"
per_lead="${3:-10}"
bench=build/bin/admin_bench
[ -x "$bench" ] || { echo "build first: deploy/build.sh" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/leadhatch-admin.XXXXXX")"
db_started=""
cleanup() {
  [ -n "$db_started" ] && bash deploy/mariadb.sh stop "$work/mariadb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$which_db" = sqlite ] || [ "$which_db" = both ]; then
  "$bench" --backend sqlite --leads "$leads" --events-per-lead "$per_lead" --workdir "$work/sqlite"
fi
if [ "$which_db" = mysql ] || [ "$which_db" = both ]; then
  if [ -z "${LEADHATCH_TEST_MYSQL_URL:-}" ]; then
    bash deploy/mariadb.sh start "$work/mariadb" >/dev/null
    db_started=1
    # shellcheck disable=SC1091
    source "$work/mariadb/env"
  fi
  "$bench" --backend mysql --leads "$leads" --events-per-lead "$per_lead" --workdir "$work/mysql"
fi
