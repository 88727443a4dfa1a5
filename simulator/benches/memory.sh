#!/usr/bin/env bash
# Memory per device entry (issue 16), each server as its own process: loads N devices into
# adsim over plain LDAP with the bench client (benches/server.rs, `--shape writeback`: devices as
# `devwb writeback` writes them, twelve mapped attributes, which adsim completes to about 25 with
# its generated ones) and reads adsim's resident set from /proc before and after; then the same
# count of six-attribute devices into OpenLDAP's slapd (back-mdb), its RSS and database size.
# Prints one line per server and count.
#
# usage: simulator/benches/memory.sh [COUNTS]        (default: 100000,300000)
# needs: Debian's slapd package for the peer (skipped, and said so, when absent).
# Run from the repository root. Builds adsim and the bench client in the bench profile.
set -euo pipefail
counts=${1:-100000,300000}
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d /tmp/devwb-memory.XXXXXX)
adsim_pid=""
cleanup() {
    [ -n "$adsim_pid" ] && kill "$adsim_pid" 2>/dev/null || true
    [ -f "$work/slapd/slapd.pid" ] && kill "$(cat "$work/slapd/slapd.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build -q --profile bench -p devwb-simulator --bin adsim
client=$(cargo bench -q -p devwb-simulator --bench server --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*server-[^"]*\)".*/\1/p' | tail -1)
[ -x "$client" ] || { echo "memory: could not find the bench client's executable" >&2; exit 2; }
adsim="$target/release/adsim"
password=Bench-Passw0rd
cat > "$work/container.ldif" <<'LDIF'
dn: CN=RegisteredDevices,DC=contoso,DC=lab
objectClass: top
objectClass: msDS-DeviceContainer
LDIF

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
wait_for() { # port
    for _ in $(seq 1 50); do
        if ldapsearch -x -H "ldap://127.0.0.1:$1/" -b "" -s base >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "memory: nothing answers on port $1" >&2
    exit 1
}

echo "memory: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
for count in ${counts//,/ }; do
    "$adsim" --forest contoso.lab --listen 127.0.0.1:3897 --ldaps 127.0.0.1:3896 \
        --allow-plain-bind --admin-password "$password" --seed "$work/container.ldif" \
        >"$work/adsim.log" 2>&1 &
    adsim_pid=$!
    wait_for 3897
    before=$(rss_kib "$adsim_pid")
    "$client" --adds "$count" --phases add --shape writeback --url ldap://127.0.0.1:3897 \
        --bind-dn "CN=Administrator,CN=Users,DC=contoso,DC=lab" --password "$password" \
        --base "CN=RegisteredDevices,DC=contoso,DC=lab" --kind ad | grep -v RESULT >"$work/client.log"
    sleep 1
    after=$(rss_kib "$adsim_pid")
    echo "RESULT server=adsim devices=$count rss_before_mib=$((before / 1024)) rss_after_mib=$((after / 1024)) bytes_per_entry=$(((after - before) * 1024 / count)) ($(grep -o '= [0-9]*/s' "$work/client.log"))"
    kill "$adsim_pid"
    wait "$adsim_pid" 2>/dev/null || true
    adsim_pid=""

    if [ -x /usr/sbin/slapd ]; then
        rm -rf "$work/slapd"
        simulator/benches/slapd-peer.sh 3898 "$work/slapd" nosync >/dev/null
        slapd_pid=$(cat "$work/slapd/slapd.pid")
        before=$(rss_kib "$slapd_pid")
        "$client" --adds "$count" --phases add --url ldap://127.0.0.1:3898 --bind-dn cn=admin,dc=bench \
            --password secret --base ou=devices,dc=bench --kind openldap | grep -v RESULT >"$work/client.log"
        sleep 1
        after=$(rss_kib "$slapd_pid")
        db=$(du -k "$work/slapd/db/data.mdb" | cut -f1)
        echo "RESULT server=slapd devices=$count rss_before_mib=$((before / 1024)) rss_after_mib=$((after / 1024)) bytes_per_entry=$(((after - before) * 1024 / count)) mdb_file_bytes_per_entry=$((db * 1024 / count)) ($(grep -o '= [0-9]*/s' "$work/client.log"))"
        kill "$slapd_pid"
        sleep 0.5
    else
        echo "memory: slapd not measured: /usr/sbin/slapd is missing (apt-get install slapd)"
    fi
done
