#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway MariaDB on loopback, runs the whole test
# suite against both storage backends, stops MariaDB, and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

bash deploy/install-deps.sh --test
BUILD_TYPE="${BUILD_TYPE:-Release}" bash deploy/build.sh

db_dir="$(mktemp -d "${TMPDIR:-/tmp}/leadhatch-mariadb.XXXXXX")"
cleanup() {
  bash deploy/mariadb.sh stop "$db_dir" || true
  rm -rf "$db_dir"
}
trap cleanup EXIT INT TERM
bash deploy/mariadb.sh start "$db_dir"
# shellcheck disable=SC1091
source "$db_dir/env"
export CI="${CI:-true}"  # here a missing database is a failure, never a skip

status=0
(cd build && ctest --output-on-failure -j"${JOBS:-2}" --timeout 600) || status=$?
echo "deploy/test.sh: finished in $(( $(date +%s) - started )) s, status ${status}"
exit "$status"
