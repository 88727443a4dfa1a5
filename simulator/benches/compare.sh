#!/usr/bin/env bash
# The simulator against OpenLDAP's slapd, side by side: both run as their own processes on
# loopback and the same client (benches/server.rs) drives each in turn with the same workload,
# round after round, alternating so that load from elsewhere falls on both. Prints one line per
# run and a table of the means and ratios (markdown, as docs/benchmarks.md records it).
#
# usage: simulator/benches/compare.sh [ROUNDS] [OPERATIONS] [PHASES] [CLIENT OPTIONS...]
#        defaults: 5 rounds, 20000, add,search. PHASES is what the client runs (add, search,
#        paged); `paged` reads the whole container with the simple paged results control
#        (see benches/server.rs), for example `compare.sh 5 100000 add,paged --paged-rounds 3`.
# needs: Debian's slapd package (apt-get install slapd; its service need not run).
# Run from the repository root. Builds adsim and the bench client in the bench profile.
set -euo pipefail
rounds=${1:-5}
operations=${2:-20000}
phases=${3:-add,search}
shift $(($# > 3 ? 3 : $#))
extra=("$@")
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d /tmp/devwb-compare.XXXXXX)
adsim_pid=""
cleanup() {
    [ -n "$adsim_pid" ] && kill "$adsim_pid" 2>/dev/null || true
    [ -f "$work/slapd/slapd.pid" ] && kill "$(cat "$work/slapd/slapd.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

[ -x /usr/sbin/slapd ] || { echo "compare: /usr/sbin/slapd is missing: apt-get install slapd" >&2; exit 2; }
cargo build -q --profile bench -p devwb-simulator --bin adsim
client=$(cargo bench -q -p devwb-simulator --bench server --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*server-[^"]*\)".*/\1/p' | tail -1)
[ -x "$client" ] || { echo "compare: could not find the bench client's executable" >&2; exit 2; }
adsim="$target/release/adsim"

password=Bench-Passw0rd
cat > "$work/container.ldif" <<'LDIF'
dn: CN=RegisteredDevices,DC=contoso,DC=lab
objectClass: top
objectClass: msDS-DeviceContainer
LDIF

wait_for() { # port
    for _ in $(seq 1 50); do
        if ldapsearch -x -H "ldap://127.0.0.1:$1/" -b "" -s base >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "compare: nothing answers on port $1" >&2
    exit 1
}

run_adsim() {
    "$adsim" --forest contoso.lab --listen 127.0.0.1:3897 --ldaps 127.0.0.1:3896 \
        --allow-plain-bind --admin-password "$password" --seed "$work/container.ldif" \
        >"$work/adsim.log" 2>&1 &
    adsim_pid=$!
    wait_for 3897
    "$client" --adds "$operations" --url ldap://127.0.0.1:3897 \
        --bind-dn "CN=Administrator,CN=Users,DC=contoso,DC=lab" --password "$password" \
        --base "CN=RegisteredDevices,DC=contoso,DC=lab" --kind ad --phases "$phases" ${extra[@]+"${extra[@]}"} |
        grep 'RESULT\|^paged'
    kill "$adsim_pid"
    wait "$adsim_pid" 2>/dev/null || true
    adsim_pid=""
}

run_slapd() {
    rm -rf "$work/slapd"
    simulator/benches/slapd-peer.sh 3898 "$work/slapd" nosync >/dev/null
    "$client" --adds "$operations" --url ldap://127.0.0.1:3898 --bind-dn cn=admin,dc=bench \
        --password secret --base ou=devices,dc=bench --kind openldap --phases "$phases" ${extra[@]+"${extra[@]}"} |
        grep 'RESULT\|^paged'
    kill "$(cat "$work/slapd/slapd.pid")"
    sleep 0.5
}

echo "compare: $rounds rounds of $operations operations per phase ($phases) each; $(nproc) cores"
results="$work/results"
for round in $(seq 1 "$rounds"); do
    run_adsim | sed "s/^/round=$round /" | tee -a "$results"
    run_slapd | sed "s/^/round=$round /" | tee -a "$results"
done

awk '
/kind=ad /       { sa += value("adds_per_s"); ss += value("searches_per_s"); sp += value("paged_entries_per_s"); n++ }
/kind=openldap / { oa += value("adds_per_s"); os += value("searches_per_s"); op += value("paged_entries_per_s"); m++ }
function value(key,   i, pair) {
    for (i = 1; i <= NF; i++) { split($i, pair, "="); if (pair[1] == key) return pair[2] }
    return 0
}
END {
    printf "\n| | adsim | slapd (mdb, dbnosync) | ratio |\n|---|---|---|---|\n"
    if (oa > 0) printf "| adds/s, mean of %d | %.0f | %.0f | %.2fx |\n", n, sa / n, oa / m, (sa / n) / (oa / m)
    if (os > 0) printf "| searches/s, mean of %d | %.0f | %.0f | %.2fx |\n", n, ss / n, os / m, (ss / n) / (os / m)
    if (op > 0) printf "| paged search entries/s, mean of %d | %.0f | %.0f | %.2fx |\n", n, sp / n, op / m, (sp / n) / (op / m)
}' "$results"
