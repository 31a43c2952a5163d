#!/usr/bin/env bash
# Installs dependencies, builds, and runs the demo: a smoke run of the operator CLI on a fresh
# state dir (register ops, walk one through dual-write, shadow and ramp, explain a decision,
# roll back, show the audit log; then validate, apply and start the social-network plan). `cmo demo`, the end-to-end story, replaces this when it lands.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default >/dev/null

CMO="$PWD/build/orchestrator/cmo"
STATE="$(mktemp -d /tmp/cmo-demo-XXXXXX)"
trap 'rm -rf "$STATE"' EXIT
export CMO_STATE_DIR="$STATE/state" CMO_ACTOR="demo"

run() { echo; echo "\$ cmo $*"; "$CMO" "$@"; }

run ops add payment.transfer --domain payments --class critical --target strong
run ops add post.like --domain likes --target eventual
run ops add comment.read --domain comments --target causal
run advance post.like --reason "dual-write likes"
run advance post.like --sample 5% --reason "shadow-compare 5% of like reads"
run ramp post.like --to 10% --dry-run --reason "first ramp"
run ramp post.like --to 10% --reason "first ramp"
run decide post.like user-42
run decide post.like user-7 --output json
echo; echo "\$ cmo ramp payment.transfer --to 5 --reason oops   # refused: critical"
if "$CMO" ramp payment.transfer --to 5 --reason oops; then exit 1; else echo "(exit $?)"; fi
run rollback post.like --reason "stale reads reported"
run ops list
run history --limit 8
run plan validate migrations/social-network.yaml
run plan apply migrations/social-network.yaml --reason "selective consistency, phase 1"
run plan run --once
run plan status
echo; echo "demo finished: state was in $STATE (removed)"
