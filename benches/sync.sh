#!/usr/bin/env bash
# `devwb sync` against the simulator's fake Entra tenant, each as its own process, release builds
# (issue 12's benchmarks). Per round:
#   peer  a fresh adsim (no tenant), prepared; `devwb writeback --export` of N devices written by
#         `cargo xtask gen-devices` with the tenant's seed and the forest's domain SID (the same
#         devices the tenant serves): wall time and peak RSS;
#   full  a fresh adsim with `--entra-devices N`, prepared; `devwb sync --once` (full round,
#         999 a page, owners expanded): wall time and peak RSS;
#   delta CHANGES devices changed through the admin endpoint (PATCH displayName), then
#         `devwb sync --once` (a delta round): wall time;
#   lag   `devwb sync --interval 1s` running; SAMPLES times: one device's displayName changed in
#         the tenant, AD polled with ldapsearch (every 20 ms) until the entry carries it.
# Prints one line per measurement and a markdown table at the end. Stops everything it started,
# on failure too; every wait is bounded.
#
# SYNC_BENCH_KEEP=1 keeps the work directory (logs, outputs) for a look afterwards.
# usage: benches/sync.sh [ROUNDS] [DEVICES] [CHANGES] [SAMPLES]   (defaults: 3 100000 1000 10)
# needs: /usr/bin/time, ldapsearch (ldap-utils), curl, jq, python3. Run from the repository root
# (cargo xtask bench sync does). Builds devwb and adsim with --release.
set -euo pipefail
rounds=${1:-3}
devices=${2:-100000}
changes=${3:-1000}
samples=${4:-10}
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

for tool in /usr/bin/time ldapsearch curl jq python3; do
    command -v "$tool" >/dev/null || { echo "sync-bench: $tool is missing" >&2; exit 2; }
done

work=$(mktemp -d /tmp/devwb-sync-bench.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${SYNC_BENCH_KEEP:-}" ]; then echo "sync-bench: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench=sync-bench
# shellcheck source=benches/common.sh
. benches/common.sh
started=$SECONDS
build_release

password='Bench-Pa55word!'
(umask 077 && printf '%s' "$password" >"$work/admin.pw")
secret=bench-secret
admin=CN=Administrator,CN=Users,DC=contoso,DC=lab
container=CN=RegisteredDevices,DC=contoso,DC=lab
id_seed=1      # the same forest (so the same domain SID) in every adsim of the run
device_seed=1  # the tenant's devices and the export's

adsim_pid=""
ldap_url=""
ldaps_url=""
entra_url=""
tenant=""
client=""
# start_adsim NAME [ARGS...]: adsim on free ports; waits for its listener lines.
start_adsim() {
    local name=$1
    shift
    rm -f "$work/ca.pem"
    ADSIM_ADMIN_PASSWORD=$password ADSIM_ENTRA_CLIENT_SECRET=$secret \
        "$adsim" --forest contoso.lab --listen 127.0.0.1:0 --ldaps 127.0.0.1:0 --allow-plain-bind \
        --id-seed "$id_seed" --write-cert "$work/ca.pem" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    adsim_pid=$!
    pids+=("$adsim_pid")
    local want=ldaps
    [ $# -gt 0 ] && [ "$1" = --entra ] && want=entra
    for _ in $(seq 1 600); do
        if grep -q "^$want " "$work/$name.out" 2>/dev/null; then break; fi
        kill -0 "$adsim_pid" 2>/dev/null || { cat "$work/$name.err" >&2; echo "sync-bench: adsim stopped" >&2; exit 1; }
        sleep 0.05
    done
    grep -q "^$want " "$work/$name.out" || { echo "sync-bench: adsim printed no $want line in 30 s" >&2; exit 1; }
    ldap_url=$(awk '$1 == "ldap" { print $2 }' "$work/$name.out")
    ldaps_url=$(awk '$1 == "ldaps" { print $2 }' "$work/$name.out")
    if [ "$want" = entra ]; then
        read -r _ entra_url _ tenant _ client _ < <(grep '^entra ' "$work/$name.out")
    fi
    # --write-cert is written after the LDAP lines: wait for it too.
    for _ in $(seq 1 100); do [ -s "$work/ca.pem" ] && break; sleep 0.05; done
}

stop_adsim() {
    kill "$adsim_pid" 2>/dev/null || true
    wait "$adsim_pid" 2>/dev/null || true
    adsim_pid=""
}

connection=()
prepare() {
    connection=(--url "$ldaps_url" --ca-file "$work/ca.pem" --bind "$admin" --password-file "$work/admin.pw")
    timeout 60 "$devwb" prepare "${connection[@]}" --connector-account "$admin" >"$work/prepare.out" 2>&1 ||
        { cat "$work/prepare.out" >&2; echo "sync-bench: prepare failed" >&2; exit 1; }
}

ldap_count() { # FILTER: how many entries of the container match
    ldapsearch -x -LLL -o ldif-wrap=no -H "$ldap_url" -D "$admin" -y "$work/admin.pw" \
        -E pr=1000/noprompt -b "$container" -s one "$1" dn 2>/dev/null | grep -c '^dn:' || true
}

now() { date +%s.%N; }

# The forest's domain SID (the same in every adsim of the run: --id-seed), and the export.
start_adsim sid
sid=$(domain_sid "$ldap_url" "$admin" "$work/admin.pw")
stop_adsim
echo "sync-bench: built in $((SECONDS - started)) s; domain SID $sid; writing the export of $devices devices"
cargo xtask gen-devices --count "$devices" --seed "$device_seed" --owner-domain-sid "$sid" \
    --out "$work/devices.json" >/dev/null
echo "sync-bench: ready after $((SECONDS - started)) s"
# Every (devices/changes)-th device's object id: the ones the delta round changes.
jq -r --argjson step $((devices / changes)) '.value | .[range(0; length; $step)].id' \
    "$work/devices.json" | head -n "$changes" >"$work/changed.ids"

graph=()
echo "sync-bench: $rounds rounds, $devices devices, $changes changes, $samples latency samples; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
results="$work/results"
for round in $(seq 1 "$rounds"); do
    # The peer: writeback --export into a fresh forest.
    start_adsim peer
    prepare
    timed export "$devwb" writeback "${connection[@]}" --export "$work/devices.json" --undo-dir "$work/undo" --yes --json
    added=$(jq -r ".applied.added // .plan.counts.adds" "$work/export.out")
    echo "round=$round kind=export wall_s=$wall rss_mib=$rss added=${added:-?}" | tee -a "$results"
    stop_adsim

    # The full sync round into a fresh forest and tenant.
    start_adsim tenant --entra 127.0.0.1:0 --entra-devices "$devices" --entra-device-seed "$device_seed"
    prepare
    graph=(--tenant "$tenant" --client-id "$client" --authority "$entra_url" --graph-url "$entra_url"
        --graph-ca-file "$work/ca.pem" --state-dir "$work/state-$round" --undo-dir "$work/undo")
    export DEVWB_CLIENT_SECRET=$secret
    timed full "$devwb" sync "${connection[@]}" "${graph[@]}" --once --json
    echo "round=$round kind=full wall_s=$wall rss_mib=$rss $(jq -r '"seen=\(.seen) added=\(.added) own_s=\(.duration_seconds)"' "$work/full.out")" |
        tee -a "$results"
    in_ad=$(ldap_count '(objectClass=msDS-Device)')
    [ "$in_ad" -eq "$devices" ] || echo "sync-bench: warning: $in_ad devices in AD after the full round, not $devices" >&2

    # A delta round: CHANGES displayName changes through the admin endpoint, one curl, one connection
    # (`next` resets every option, so each block names the CA again).
    : >"$work/patch.cfg"
    while read -r id; do
        [ -s "$work/patch.cfg" ] && echo next >>"$work/patch.cfg"
        printf 'url = "%s/_adsim/entra/devices/%s"\ncacert = "%s"\nrequest = "PATCH"\nheader = "Content-Type: application/json"\ndata = "{\\"displayName\\":\\"BENCH-D%s-%s\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
            "$entra_url" "$id" "$work/ca.pem" "$round" "${id:0:8}" >>"$work/patch.cfg"
    done <"$work/changed.ids"
    ok=$(timeout 120 curl -s --cacert "$work/ca.pem" -K "$work/patch.cfg" | grep -c '^200$' || true)
    [ "$ok" -eq "$changes" ] || { echo "sync-bench: $ok of $changes PATCHes answered 200" >&2; exit 1; }
    timed delta "$devwb" sync "${connection[@]}" "${graph[@]}" --once --json
    echo "round=$round kind=delta wall_s=$wall rss_mib=$rss $(jq -r '"seen=\(.seen) modified=\(.modified) own_s=\(.duration_seconds)"' "$work/delta.out")" |
        tee -a "$results"
    in_ad=$(ldap_count "(displayName=BENCH-D$round-*)")
    [ "$in_ad" -eq "$changes" ] || echo "sync-bench: warning: $in_ad changed entries in AD after the delta round, not $changes" >&2

    # Latency with the service running: tenant change to AD entry.
    "$devwb" sync "${connection[@]}" "${graph[@]}" --interval 1s --json >"$work/service.out" 2>"$work/service.err" &
    service=$!
    pids+=("$service")
    sleep 1.5 # its first (delta) round
    mapfile -t lag_ids < <(sed -n "1~$(( changes / samples > 0 ? changes / samples : 1 ))p" "$work/changed.ids" | head -n "$samples")
    for k in "${!lag_ids[@]}"; do
        id=${lag_ids[$k]}
        name="BENCH-L$round-$k"
        t0=$(now)
        curl -sf --cacert "$work/ca.pem" -X PATCH -H 'Content-Type: application/json' \
            --data "{\"displayName\":\"$name\"}" -o /dev/null "$entra_url/_adsim/entra/devices/$id"
        seen=""
        for _ in $(seq 1 500); do
            if [ "$(ldap_count "(displayName=$name)")" -eq 1 ]; then seen=$(now); break; fi
            sleep 0.02
        done
        [ -n "$seen" ] || { echo "sync-bench: $name not in AD after 500 polls" >&2; exit 1; }
        echo "round=$round kind=lag sample=$k lag_s=$(awk -v a="$seen" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" | tee -a "$results"
        # Changes land at varying points of the 1 s interval.
        sleep "0.$(( (k * 37) % 10 ))"
    done
    kill -TERM "$service"
    for _ in $(seq 1 300); do kill -0 "$service" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$service" 2>/dev/null || true
    wait "$service" || { echo "sync-bench: the service exited with $?" >&2; tail -5 "$work/service.err" >&2; }
    echo "round=$round kind=service rounds=$(grep -c '"round"' "$work/service.out") failed_rounds=$(jq -s '[.[] | select(.failed > 0)] | length' "$work/service.out")" | tee -a "$results"
    stop_adsim
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [dict(f.split("=", 1) for f in line.split()) for line in open(sys.argv[1])]
def col(kind, key):
    return [float(r[key]) for r in rows if r["kind"] == kind]
def span(v, digits=2):
    return f"{statistics.median(v):.{digits}f} (min {min(v):.{digits}f}, max {max(v):.{digits}f}, n={len(v)})"
export, full = col("export", "wall_s"), col("full", "wall_s")
print("\n| measure | devwb sync | peer: writeback --export, same run | target |")
print("|---|---|---|---|")
print(f"| full round, wall s | {span(full)} | {span(export)} | <= 10 s, <= 120 % of the peer |")
ratios = [f / e for f, e in zip(full, export)]
print(f"| full / export, per round | {', '.join(f'{r:.0%}' for r in ratios)} | | <= 120 % |")
print(f"| peak RSS MiB | {span(col('full', 'rss_mib'), 0)} | {span(col('export', 'rss_mib'), 0)} | < 300 MiB |")
print(f"| delta round, wall s | {span(col('delta', 'wall_s'))} | | <= 1 s |")
lag = col("lag", "lag_s")
print(f"| change to AD, --interval 1s, s | median {statistics.median(lag):.3f}, max {max(lag):.3f} (n={len(lag)}) | | <= 2 s |")
PY
