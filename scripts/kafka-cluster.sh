#!/usr/bin/env bash
# A throwaway Apache Kafka cluster on loopback for the real-broker tests and benchmarks:
# 1 or 3 KRaft nodes (each broker + controller, no ZooKeeper), data and logs under DIR.
# The broker is the pinned org.apache.kafka:kafka_2.13 of tests/kafka/pom.xml, copied with its
# runtime dependencies by Maven into a cache shared between runs (CMO_KAFKA_LIBS, default
# ~/.cache/cmo/kafka-VERSION). Topic auto-creation is off: cmo must create its own topics.
#   scripts/kafka-cluster.sh start DIR [BROKERS] [--sasl-plain USER:PASSWORD]
#                                                  # prints the bootstrap servers; with
#     --sasl-plain each node also has a SASL_PLAINTEXT listener (PLAIN mechanism, that one
#     user), whose bootstrap servers go to DIR/sasl-bootstrap
#   scripts/kafka-cluster.sh stop DIR              # stops every node (by PID)
#   scripts/kafka-cluster.sh kill DIR N [SIGNAL]   # node N (1-based), default SIGKILL
#   scripts/kafka-cluster.sh restart DIR N         # starts node N again, waits until it serves
#   scripts/kafka-cluster.sh libs                  # only fetches the broker; prints the cache
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pom="$here/tests/kafka/pom.xml"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
libs=${CMO_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/cmo/kafka-$version}

die() { echo "kafka-cluster: $*" >&2; exit 1; }

fetch_libs() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found; run scripts/install-deps.sh"
  command -v java >/dev/null || die "java not found; run scripts/install-deps.sh"
  mkdir -p "$(dirname "$libs")"
  rm -rf "$libs.tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
         -DoutputDirectory="$libs.tmp" >"$libs.mvn.log" 2>&1; then
    tail -20 "$libs.mvn.log" >&2
    die "could not fetch Apache Kafka $version with Maven (log: $libs.mvn.log)"
  fi
  touch "$libs.tmp/.complete"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
}

# Three loopback ports per node, all free now: client listener, controller listener, and the
# SASL/PLAIN client listener (--sasl-plain; the plain one stays, for the harness's kcat).
pick_ports() {
  local n=$1 base tries=0 p ok
  while :; do
    base=$((20000 + RANDOM % 20000))
    ok=1
    for ((p = base; p < base + 3 * n; p++)); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ok=0; break; fi
    done
    [ $ok = 1 ] && { echo "$base"; return; }
    tries=$((tries + 1)); [ $tries -lt 50 ] || die "no free ports found"
  done
}

launch() {  # launch DIR N: starts node N in the background, records its PID
  local dir=$1 n=$2
  setsid java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$dir/node$n/server.properties" \
    >>"$dir/node$n/server.log" 2>&1 </dev/null &
  echo $! >"$dir/node$n/pid"
}

# Waits until node N accepts connections and answers metadata (with kcat, which the tests use).
wait_serving() {
  local dir=$1 n=$2 port deadline=$((SECONDS + 90))
  port=$(cat "$dir/node$n/port")
  until kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$dir/node$n/pid")" 2>/dev/null; then
      tail -30 "$dir/node$n/server.log" >&2
      die "node $n exited during start (log: $dir/node$n/server.log)"
    fi
    [ $SECONDS -lt $deadline ] || die "node $n not serving after 90 s (log: $dir/node$n/server.log)"
    sleep 0.3
  done
}

start() {
  local dir=$1 n=${2:-1} sasl=${3:-} base voters="" i rf isr bootstrap="" sasl_bootstrap=""
  local cluster_id listeners advertised protocols sasl_port
  [ "$n" = 1 ] || [ "$n" = 3 ] || die "BROKERS must be 1 or 3, not '$n'"
  case "$sasl" in
    "" | *:*) ;;
    *) die "--sasl-plain takes USER:PASSWORD" ;;
  esac
  [ -e "$dir/nodes" ] && die "$dir already holds a cluster; stop it first"
  fetch_libs
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  base=$(pick_ports "$n")
  for ((i = 1; i <= n; i++)); do
    voters+="${voters:+,}$i@127.0.0.1:$((base + 2 * i - 1))"
    bootstrap+="${bootstrap:+,}127.0.0.1:$((base + 2 * i - 2))"
  done
  rf=$((n < 3 ? n : 3)); isr=$((n < 3 ? 1 : 2))
  cat >"$dir/log4j2.properties" <<'EOF'
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
EOF
  cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
  for ((i = 1; i <= n; i++)); do
    mkdir -p "$dir/node$i"
    echo $((base + 2 * i - 2)) >"$dir/node$i/port"
    listeners="PLAINTEXT://127.0.0.1:$((base + 2 * i - 2)),CONTROLLER://127.0.0.1:$((base + 2 * i - 1))"
    advertised="PLAINTEXT://127.0.0.1:$((base + 2 * i - 2))"
    protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if [ -n "$sasl" ]; then
      sasl_port=$((base + 2 * n + i - 1))
      listeners+=",SASL_PLAINTEXT://127.0.0.1:$sasl_port"
      advertised+=",SASL_PLAINTEXT://127.0.0.1:$sasl_port"
      protocols+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
      sasl_bootstrap+="${sasl_bootstrap:+,}127.0.0.1:$sasl_port"
    fi
    cat >"$dir/node$i/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$dir/node$i/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
EOF
    if [ -n "$sasl" ]; then
      cat >>"$dir/node$i/server.properties" <<EOF
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${sasl%%:*}="${sasl#*:}";
EOF
    fi
    java -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/node$i/server.properties" >"$dir/node$i/format.log" 2>&1 ||
      { cat "$dir/node$i/format.log" >&2; die "formatting node $i failed"; }
  done
  echo "$n" >"$dir/nodes"
  echo "$bootstrap" >"$dir/bootstrap"
  [ -z "$sasl" ] || echo "$sasl_bootstrap" >"$dir/sasl-bootstrap"
  for ((i = 1; i <= n; i++)); do launch "$dir" "$i"; done
  for ((i = 1; i <= n; i++)); do wait_serving "$dir" "$i"; done
  echo "$bootstrap"
}

stop_node() {  # stop_node DIR N SIGNAL: signals node N and waits for it to exit
  local dir=$1 n=$2 sig=$3 pid deadline=$((SECONDS + 30))
  [ -f "$dir/node$n/pid" ] || return 0
  pid=$(cat "$dir/node$n/pid")
  kill "-$sig" "$pid" 2>/dev/null || { rm -f "$dir/node$n/pid"; return 0; }
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  rm -f "$dir/node$n/pid"
}

stop() {
  local dir=$1 n i
  [ -f "$dir/nodes" ] || return 0
  n=$(cat "$dir/nodes")
  # All at once: a controller quorum that loses members one by one makes the last ones wait.
  for ((i = 1; i <= n; i++)); do
    [ -f "$dir/node$i/pid" ] && kill -TERM "$(cat "$dir/node$i/pid")" 2>/dev/null || true
  done
  for ((i = 1; i <= n; i++)); do stop_node "$dir" "$i" TERM; done
  rm -f "$dir/nodes"
}

case "${1:-}" in
  start)
    if [ "${3:-}" = --sasl-plain ]; then
      start "${2:?DIR}" 1 "${4:?--sasl-plain USER:PASSWORD}"
    elif [ "${4:-}" = --sasl-plain ]; then
      start "${2:?DIR}" "${3:-1}" "${5:?--sasl-plain USER:PASSWORD}"
    else
      start "${2:?DIR}" "${3:-1}"
    fi
    ;;
  stop) stop "${2:?DIR}" ;;
  kill) stop_node "${2:?DIR}" "${3:?N}" "${4:-KILL}" ;;
  restart)
    [ -f "${2:?DIR}/node${3:?N}/server.properties" ] || die "no node $3 in $2"
    [ -f "$2/node$3/pid" ] && kill -0 "$(cat "$2/node$3/pid")" 2>/dev/null && die "node $3 is running"
    fetch_libs
    launch "$2" "$3"
    wait_serving "$2" "$3"
    ;;
  libs) fetch_libs; echo "$libs" ;;
  *)
    echo "usage: $0 start DIR [1|3] [--sasl-plain USER:PASSWORD] | stop DIR | kill DIR N [SIGNAL] | restart DIR N | libs" >&2
    exit 2
    ;;
esac
