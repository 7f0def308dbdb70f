#!/usr/bin/env bash
# A throwaway MariaDB server on loopback, without systemd, for tests and benchmarks.
#
#   deploy/mariadb.sh start DIR     initialise DIR (if new), start on a free port, create the
#                                   database and user; writes DIR/env with LEADHATCH_TEST_MYSQL_URL
#   deploy/mariadb.sh stop DIR      stop the server started in DIR
#   deploy/mariadb.sh restart DIR   stop and start again on the same port and data
#
# Works as root (mariadbd --user=root) or as a normal user.
set -euo pipefail

cmd="${1:?usage: mariadb.sh start|stop|restart DIR}"
dir="${2:?usage: mariadb.sh start|stop|restart DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"
sock="$dir/mysqld.sock"
pidfile="$dir/mysqld.pid"
log="$dir/mysqld.log"
user_opt=()
if [ "$(id -u)" -eq 0 ]; then user_opt=(--user=root); fi

for bin in mariadbd mariadb-install-db mariadb mariadb-admin; do
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
    echo "mariadb.sh: $bin not found (run deploy/install-deps.sh --test)" >&2
    exit 1
  fi
done
export PATH="$PATH:/usr/sbin"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  echo "mariadb.sh: no free port found" >&2
  return 1
}

start_server() {
  local port="$1"
  mariadbd --no-defaults "${user_opt[@]}" --datadir="$data" --socket="$sock" --pid-file="$pidfile" \
    --port="$port" --bind-address=127.0.0.1 --log-error="$log" --skip-name-resolve \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=256M --innodb-flush-log-at-trx-commit=1 \
    --max-connections=500 --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --skip-log-bin >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    if mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; then
      echo "$port" > "$dir/port"
      return 0
    fi
    sleep 0.1
  done
  echo "mariadb.sh: server did not start; log follows" >&2
  tail -n 30 "$log" >&2 || true
  return 1
}

stop_server() {
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case "$cmd" in
  start)
    if [ ! -d "$data/mysql" ]; then
      mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$data" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 || {
        cat "$dir/install.log" >&2
        exit 1
      }
    fi
    port="$(pick_port)"
    start_server "$port"
    password="lh-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    mariadb --no-defaults --socket="$sock" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS leadhatch_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'leadhatch'@'127.0.0.1' IDENTIFIED BY '${password}';
ALTER USER 'leadhatch'@'127.0.0.1' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON *.* TO 'leadhatch'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
    cat > "$dir/env" <<ENV
export LEADHATCH_TEST_MYSQL_URL='mysql://leadhatch:${password}@127.0.0.1:${port}/leadhatch_test'
export LEADHATCH_TEST_MYSQL_RESTART='bash $(cd "$(dirname "$0")" && pwd)/mariadb.sh restart $dir'
ENV
    echo "mariadb.sh: MariaDB on 127.0.0.1:${port} (data in $dir)"
    ;;
  stop)
    stop_server
    ;;
  restart)
    port="$(cat "$dir/port")"
    stop_server
    start_server "$port"
    ;;
  *)
    echo "usage: mariadb.sh start|stop|restart DIR" >&2
    exit 2
    ;;
esac
