#!/usr/bin/env bash
# Installs dependencies, builds, and runs `cmo demo`: the whole migration on this machine in
# about 2.5 minutes (embedded Kafka, two replica regions, the social-network plan with time
# compressed, a synthetic power-law workload, an injected fault, the breaker's rollback and
# recovery, reconciliation, and an HTML divergence report). Extra arguments go to `cmo demo`
# (e.g. --no-faults, --duration 90s, --seed 7); `cmo demo --help` lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default >/dev/null
exec build/orchestrator/cmo demo "$@"
