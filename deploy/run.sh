#!/usr/bin/env bash
# Installs what is missing, builds, and serves leadhatch on SQLite with the demo configuration,
# listening on 127.0.0.1:8080. Secrets come from the environment; unset ones get demo values
# (printed once) so the service starts on a bare machine. Ctrl-C stops it gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh leadhatch

mkdir -p var
demo() {  # NAME VALUE: use the environment's value, or a demo one
  if [ -z "${!1:-}" ]; then
    export "$1=$2"
    echo "run.sh: $1 not set; using a demo value" >&2
  fi
}
random_token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
if [ -z "${LEADHATCH_ADMIN_TOKEN:-}" ]; then
  export LEADHATCH_ADMIN_TOKEN="$(random_token)"
  echo "run.sh: admin API token for this run: ${LEADHATCH_ADMIN_TOKEN}" >&2
fi
demo TG_TOKEN "000000:demo-token-set-TG_TOKEN"
demo TG_SECRET "$(random_token)"
demo TG_API_BASE "https://api.telegram.org"

exec build/bin/leadhatch serve --config deploy/config/demo.json "$@"
