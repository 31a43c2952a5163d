#!/usr/bin/env bash
# The transactional relay against the idempotent one on a real broker, runs alternating
# (docs/BENCHMARKS.md, "Transactional relay"):
#   scripts/kafka-cluster.sh start /tmp/kb 1     # prints HOST:PORT
#   bench/relay_transactions_ab.sh HOST:PORT [ROUNDS] > results.log
set -euo pipefail
kafka=${1:?usage: $0 HOST:PORT [ROUNDS]}
rounds=${2:-3}
cmo=${CMO:-build/orchestrator/cmo}
for ((i = 1; i <= rounds; i++)); do
  echo "== run $i real idempotent"
  "$cmo" bench pipeline --seconds 20 --kafka "$kafka" --output json
  echo "== run $i real transactional"
  "$cmo" bench pipeline --seconds 20 --kafka "$kafka" --transactional --output json
done
for ((i = 1; i <= 2; i++)); do
  echo "== run $i real idempotent rate5000"
  "$cmo" bench pipeline --seconds 20 --rate 5000 --no-limits --kafka "$kafka" --output json
  echo "== run $i real transactional rate5000"
  "$cmo" bench pipeline --seconds 20 --rate 5000 --no-limits --kafka "$kafka" --transactional \
    --output json
done
echo "== embedded transactional"
"$cmo" bench pipeline --seconds 20 --transactional --output json
echo "== embedded transactional rate5000"
"$cmo" bench pipeline --seconds 20 --rate 5000 --no-limits --transactional --output json
