#!/usr/bin/env bash
# Installs every Debian 12 package cmo needs to build, test and run (compiler included).
# Skips apt entirely when everything is already installed, so repeat runs cost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  clang-14 libclang-rt-14-dev
  libabsl-dev libsqlite3-dev sqlite3 libxxhash-dev
  librdkafka-dev kcat
  libpq-dev postgresql postgresql-client iproute2
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  curl procps chromium
  prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The dashboard test drives Debian's Chromium with playwright-core from npm (pinned in
# tests/dashboard/package-lock.json). Node.js comes from Debian unless one is installed.
command -v npm >/dev/null || missing+=(nodejs npm)
# The real-broker tests (label kafka-real) run Apache Kafka, fetched by Maven
# (scripts/kafka-cluster.sh, tests/kafka/pom.xml). A JDK already installed serves.
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
# playwright-core is pinned to the last release that runs on Debian 12's Node 18 (1.62 and
# later require Node 20), as is the OpenFeature server SDK of the OFREP test (1.19 and later
# require Node 20); each directory is reinstalled whenever its installed version of the
# package named is not the pinned one.
npm_dir() {
  local dir=$1 package=$2 want have
  want=$(sed -n "s|.*\"$package\": \"\(.*\)\".*|\1|p" "$dir/package.json")
  have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' \
         "$dir/node_modules/$package/package.json" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_deps() {
  npm_dir tests/dashboard playwright-core
  npm_dir tests/ofrep @openfeature/ofrep-provider
}
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  npm_deps
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests need only promtool from Debian's `prometheus` package, never its server: keep
# apt from starting the service (policy-rc.d, when none is in place) and disable it after.
policy=""
prometheus=false
[[ " ${missing[*]} " == *" prometheus "* ]] && prometheus=true
if $prometheus && [ ! -e /usr/sbin/policy-rc.d ]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
if $prometheus && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
npm_deps
