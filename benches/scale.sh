#!/usr/bin/env bash
# `devwb writeback` at 100k, 300k, 1M devices (issue 16), each side as its own process, release
# builds: a fresh `adsim` (LDAPS, simple binds over TLS only), prepared with a connector account
# `svc-scale` (added over LDAPS with its password), then as that connector:
#   first  `devwb writeback --export` of N devices into the empty container: wall time, the
#          client's peak RSS, and adsim's resident memory before and after (per device entry);
#   rerun  the same command again, nothing to change: wall time and peak RSS.
# The export is written by `cargo xtask gen-devices` (owners in the forest's domain) once per size.
# Prints one line per measurement and a markdown table at the end. Stops everything it started,
# on failure too; every wait is bounded.
#
# usage: benches/scale.sh [SIZES] [ROUNDS]   (defaults: "100000 300000" 1)
#        benches/scale.sh "100000 300000 1000000"   (the opt-in 1M group: cargo xtask bench scale-1m)
# SCALE_BENCH_KEEP=1 keeps the work directory. Needs /usr/bin/time, ldapadd (ldap-utils), python3.
set -euo pipefail
sizes=${1:-100000 300000}
rounds=${2:-1}
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

for tool in /usr/bin/time ldapadd python3; do
    command -v "$tool" >/dev/null || { echo "scale-bench: $tool is missing" >&2; exit 2; }
done

work=$(mktemp -d /tmp/devwb-scale-bench.XXXXXX)
adsim_pid=""
cleanup() {
    if [ -n "$adsim_pid" ]; then
        kill "$adsim_pid" 2>/dev/null || true
        wait "$adsim_pid" 2>/dev/null || true
    fi
    if [ -n "${SCALE_BENCH_KEEP:-}" ]; then echo "scale-bench: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench=scale-bench
timed_limit=900
# shellcheck source=benches/common.sh
. benches/common.sh
started=$SECONDS
build_release

password='Scale-Pa55word!'
connector_password='Scale-Connector-1!'
(umask 077 && printf '%s' "$password" >"$work/admin.pw" && printf '%s' "$connector_password" >"$work/connector.pw")
admin=CN=Administrator,CN=Users,DC=contoso,DC=lab
connector_dn=CN=svc-scale,CN=Users,DC=contoso,DC=lab

ldaps_url=""
start_adsim() {
    rm -f "$work/ca.pem"
    ADSIM_ADMIN_PASSWORD=$password "$adsim" --forest contoso.lab --no-plain --ldaps 127.0.0.1:0 \
        --id-seed 1 --write-cert "$work/ca.pem" >"$work/adsim.out" 2>"$work/adsim.err" &
    adsim_pid=$!
    for _ in $(seq 1 600); do
        grep -q '^ldaps ' "$work/adsim.out" 2>/dev/null && break
        kill -0 "$adsim_pid" 2>/dev/null || { cat "$work/adsim.err" >&2; echo "scale-bench: adsim stopped" >&2; exit 1; }
        sleep 0.05
    done
    grep -q '^ldaps ' "$work/adsim.out" || { echo "scale-bench: adsim printed no ldaps line in 30 s" >&2; exit 1; }
    ldaps_url=$(awk '$1 == "ldaps" { print $2 }' "$work/adsim.out")
    for _ in $(seq 1 100); do [ -s "$work/ca.pem" ] && break; sleep 0.05; done
}

stop_adsim() {
    kill "$adsim_pid" 2>/dev/null || true
    wait "$adsim_pid" 2>/dev/null || true
    adsim_pid=""
}

adsim_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$adsim_pid/status"; }

# The connector: a user added over LDAPS with its password, then prepare grants it the container.
as_admin=()
as_connector=()
set_up_forest() {
    as_admin=(--url "$ldaps_url" --ca-file "$work/ca.pem" --bind "$admin" --password-file "$work/admin.pw")
    as_connector=(--url "$ldaps_url" --ca-file "$work/ca.pem" --bind "svc-scale@contoso.lab" --password-file "$work/connector.pw")
    local quoted
    quoted=$(printf '"%s"' "$connector_password" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)
    printf 'dn: %s\nobjectClass: user\nsAMAccountName: svc-scale\nuserPrincipalName: svc-scale@contoso.lab\nuserAccountControl: 512\nunicodePwd:: %s\n' \
        "$connector_dn" "$quoted" >"$work/connector.ldif"
    LDAPTLS_CACERT="$work/ca.pem" timeout 30 ldapadd -x -H "$ldaps_url" -D "$admin" -y "$work/admin.pw" \
        -f "$work/connector.ldif" >"$work/connector.out" 2>&1 ||
        { cat "$work/connector.out" >&2; echo "scale-bench: could not add the connector" >&2; exit 1; }
    timeout 60 "$devwb" prepare "${as_admin[@]}" --connector-account "svc-scale@contoso.lab" >"$work/prepare.out" 2>&1 ||
        { cat "$work/prepare.out" >&2; echo "scale-bench: prepare failed" >&2; exit 1; }
}

# The forest's domain SID (the same in every adsim of the run: --id-seed) for the owners.
start_adsim
sid=$(LDAPTLS_CACERT="$work/ca.pem" domain_sid "$ldaps_url" "$admin" "$work/admin.pw")
stop_adsim
echo "scale-bench: built in $((SECONDS - started)) s; sizes: $sizes; $rounds round(s); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

results="$work/results"
for n in $sizes; do
    rm -f "$work/devices.json"
    cargo xtask gen-devices --count "$n" --seed 1 --owner-domain-sid "$sid" --out "$work/devices.json" >/dev/null
    for round in $(seq 1 "$rounds"); do
        start_adsim
        set_up_forest
        before=$(adsim_rss_kib)
        timed first "$devwb" writeback "${as_connector[@]}" --export "$work/devices.json" --undo-dir "$work/undo" --yes --json
        after=$(adsim_rss_kib)
        added=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["applied"]["added"])' "$work/first.out")
        [ "$added" -eq "$n" ] || { echo "scale-bench: the first run added $added of $n" >&2; exit 1; }
        per_entry=$(( (after - before) * 1024 / n ))
        echo "devices=$n round=$round kind=first wall_s=$wall rss_mib=$rss adsim_rss_mib=$((after / 1024)) adsim_bytes_per_entry=$per_entry" | tee -a "$results"
        timed rerun "$devwb" writeback "${as_connector[@]}" --export "$work/devices.json" --undo-dir "$work/undo" --yes --json
        unchanged=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["plan"]["counts"]["unchanged"])' "$work/rerun.out")
        [ "$unchanged" -eq "$n" ] || { echo "scale-bench: the rerun found $unchanged of $n unchanged" >&2; exit 1; }
        echo "devices=$n round=$round kind=rerun wall_s=$wall rss_mib=$rss" | tee -a "$results"
        stop_adsim
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [dict(f.split("=", 1) for f in line.split()) for line in open(sys.argv[1])]
sizes = sorted({int(r["devices"]) for r in rows})
def med(n, kind, key):
    v = [float(r[key]) for r in rows if int(r["devices"]) == n and r["kind"] == kind]
    return statistics.median(v)
print("\n| devices | first run, s | s per 100k | client peak RSS MiB | adsim RSS MiB | adsim bytes/entry | no-change rerun, s | s per 100k | rerun RSS MiB |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sizes:
    f, r = med(n, "first", "wall_s"), med(n, "rerun", "wall_s")
    print(f"| {n:,} | {f:.2f} | {f * 1e5 / n:.2f} | {med(n, 'first', 'rss_mib'):.0f} | {med(n, 'first', 'adsim_rss_mib'):.0f} | "
          f"{med(n, 'first', 'adsim_bytes_per_entry'):.0f} | {r:.2f} | {r * 1e5 / n:.2f} | {med(n, 'rerun', 'rss_mib'):.0f} |")
PY
