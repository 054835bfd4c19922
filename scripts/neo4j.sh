#!/usr/bin/env bash
# The Neo4j Community server kgsynth tests and develops against, obtained from Maven Central.
#
# Neo4j publishes no server tarball on Maven Central, but the `org.neo4j:neo4j` artifact and its
# dependencies are the whole Community server: its own launcher (`Neo4jCommand`, what `bin/neo4j` runs)
# and `neo4j-admin` (`Neo4jAdminCommand`). This script lays them out as a NEO4J_HOME under .neo4j/
# (gitignored), writes a loopback-only neo4j.conf and drives the real launcher.
#
# usage: scripts/neo4j.sh install|start|stop|restart|status|env|admin ARGS...|reset
#   install   fetch the jars (once per version) and write the config
#   start     install, set the initial password (first start only), start, wait until Bolt answers
#   stop      stop the server started here (no-op if it is not running)
#   env       print `export NEO4J_URI=... NEO4J_USER=... NEO4J_PASSWORD=...` lines for `eval`
#             (the password is read from its file by the shell, never written to the output)
#   admin     run neo4j-admin, e.g. `scripts/neo4j.sh admin database import full ...`
#   reset     stop and delete the data (the downloaded jars stay)
#
# environment: KGSYNTH_NEO4J_DIR (default <repo>/.neo4j), KGSYNTH_NEO4J_PORT (Bolt, default 17687),
#              KGSYNTH_NEO4J_HEAP (default 1g), KGSYNTH_NEO4J_PAGECACHE (default 512m),
#              KGSYNTH_NEO4J_START_TIMEOUT (seconds, default 180)
#              (the jars are shared by every KGSYNTH_NEO4J_DIR, in <repo>/.neo4j/lib-<version>)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POM="$ROOT/scripts/neo4j/pom.xml"
DIR=${KGSYNTH_NEO4J_DIR:-$ROOT/.neo4j}
HOME_DIR="$DIR/home"
PORT=${KGSYNTH_NEO4J_PORT:-17687}
HEAP=${KGSYNTH_NEO4J_HEAP:-1g}
PAGECACHE=${KGSYNTH_NEO4J_PAGECACHE:-512m}
START_TIMEOUT=${KGSYNTH_NEO4J_START_TIMEOUT:-180}
VERSION=$(sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' "$POM")
LIB_DIR="$ROOT/.neo4j/lib-$VERSION"
PASSWORD_FILE="$DIR/password"
PID_FILE="$HOME_DIR/run/neo4j.pid"
LOG_FILE="$HOME_DIR/logs/neo4j.log"

export NEO4J_HOME="$HOME_DIR" NEO4J_CONF="$HOME_DIR/conf"

log() { echo "neo4j.sh: $*" >&2; }

java_main() {
    local main=$1
    shift
    java -cp "$LIB_DIR/*" "$main" "$@"
}

fetch() {
    if [[ ! -f "$LIB_DIR/.complete" ]]; then
        log "fetching Neo4j Community $VERSION from Maven Central"
        rm -rf "$LIB_DIR.partial"
        mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIB_DIR.partial" >&2
        rm -rf "$LIB_DIR"
        mv "$LIB_DIR.partial" "$LIB_DIR"
        touch "$LIB_DIR/.complete"
    fi
}

install() {
    fetch
    mkdir -p "$HOME_DIR"
    # The launcher builds its classpath from $NEO4J_HOME/lib.
    if [[ "$(readlink "$HOME_DIR/lib" 2>/dev/null)" != "$LIB_DIR" ]]; then
        rm -rf "$HOME_DIR/lib"
        ln -s "$LIB_DIR" "$HOME_DIR/lib"
    fi
    mkdir -p "$HOME_DIR/conf" "$HOME_DIR/logs" "$HOME_DIR/run" "$HOME_DIR/import" "$HOME_DIR/plugins"
    # Rewritten on every install, so a changed port or heap takes effect on the next start.
    cat >"$HOME_DIR/conf/neo4j.conf" <<EOF
# Written by scripts/neo4j.sh; edits are overwritten.
server.default_listen_address=127.0.0.1
server.default_advertised_address=127.0.0.1
server.bolt.listen_address=127.0.0.1:$PORT
server.bolt.advertised_address=127.0.0.1:$PORT
server.http.enabled=false
server.https.enabled=false
dbms.security.auth_enabled=true
server.directories.import=$HOME_DIR/import
server.memory.heap.initial_size=512m
server.memory.heap.max_size=$HEAP
server.memory.pagecache.size=$PAGECACHE
db.tx_log.rotation.retention_policy=1 files
server.jvm.additional=-XX:+UseG1GC
server.jvm.additional=-XX:-OmitStackTraceInFastThrow
server.jvm.additional=-XX:+UnlockExperimentalVMOptions
server.jvm.additional=-XX:+TrustFinalNonStaticFields
server.jvm.additional=-XX:+DisableExplicitGC
server.jvm.additional=-XX:+ExitOnOutOfMemoryError
server.jvm.additional=-Djdk.nio.maxCachedBufferSize=1024
server.jvm.additional=-Dio.netty.tryReflectionSetAccessible=true
server.jvm.additional=--add-opens=java.base/java.nio=ALL-UNNAMED
server.jvm.additional=--add-opens=java.base/java.io=ALL-UNNAMED
server.jvm.additional=--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
server.jvm.additional=-Dlog4j2.disable.jmx=true
EOF
    if [[ ! -s "$PASSWORD_FILE" ]]; then
        (umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
    fi
}

running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

bolt_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

start() {
    install
    if running; then
        bolt_open && { log "already running on bolt://127.0.0.1:$PORT"; return 0; }
    fi
    if [[ ! -f "$HOME_DIR/data/dbms/auth.ini" && ! -d "$HOME_DIR/data/databases/system" ]]; then
        java_main org.neo4j.server.startup.Neo4jAdminCommand dbms set-initial-password \
            "$(cat "$PASSWORD_FILE")" >/dev/null
    fi
    if ! running && bolt_open; then
        log "port $PORT is in use by another process; set KGSYNTH_NEO4J_PORT to a free port"
        return 1
    fi
    local offset=0
    [[ -f "$LOG_FILE" ]] && offset=$(wc -l <"$LOG_FILE")
    if ! running; then
        java_main org.neo4j.server.startup.Neo4jCommand start >&2
    fi
    local waited=0
    until bolt_open && tail -n "+$((offset + 1))" "$LOG_FILE" 2>/dev/null | grep -q 'INFO  Started\.'; do
        if ! running; then
            log "Neo4j exited while starting; the end of $LOG_FILE:"
            tail -n 30 "$LOG_FILE" >&2 || true
            return 1
        fi
        if ((waited >= START_TIMEOUT)); then
            log "Neo4j did not answer on bolt://127.0.0.1:$PORT within ${START_TIMEOUT}s; see $LOG_FILE"
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "Neo4j $VERSION ready on bolt://127.0.0.1:$PORT (${waited}s)"
}

stop() {
    if running; then
        fetch
        java_main org.neo4j.server.startup.Neo4jCommand stop >&2
    else
        log "not running"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status) if running; then echo "running (pid $(cat "$PID_FILE"), bolt://127.0.0.1:$PORT)"; else echo "stopped"; exit 3; fi ;;
    env)
        echo "export NEO4J_URI=bolt://127.0.0.1:$PORT"
        echo "export NEO4J_USER=neo4j"
        echo "export NEO4J_PASSWORD=\"\$(cat '$PASSWORD_FILE')\""
        ;;
    admin) shift && install && java_main org.neo4j.server.startup.Neo4jAdminCommand "$@" ;;
    reset) stop && rm -rf "$HOME_DIR/data" "$HOME_DIR/logs" "$HOME_DIR/run" "$PASSWORD_FILE" ;;
    *)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
