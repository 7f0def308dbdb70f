#!/usr/bin/env bash
# Installs what leadhatch needs on Debian 12, and nothing that is already there.
# Idempotent: run it as often as you like. Uses sudo only when not root.
#
#   deploy/install-deps.sh            build + run dependencies
#   deploy/install-deps.sh --test     also what the tests need (MariaDB server)
#   deploy/install-deps.sh --bench    also what the benchmarks need (wrk)
set -euo pipefail

packages=(
  g++ cmake make
  libboost-dev          # Boost 1.74: Asio + Beast (header-only); the version libmysqlcppconn-dev depends on
  nlohmann-json3-dev
  libmysqlcppconn-dev   # MySQL Connector/C++ 1.1 (legacy API)
  libspdlog-dev
  libsqlite3-dev
  libssl-dev
  libgtest-dev
  ca-certificates       # TLS verification of platform APIs
)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(mariadb-server mariadb-client) ;;
    --bench) packages+=(wrk mariadb-server mariadb-client) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
apt_install() { "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; }
# A fresh image has no package lists: fetch them when the first attempt cannot find a package.
if ! apt_install; then
  "${as_root[@]}" apt-get update
  apt_install
fi
