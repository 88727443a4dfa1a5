#!/bin/sh
# Starts OpenLDAP's slapd (Debian package slapd) on loopback with a throw-away mdb database,
# as the peer of the simulator in benches/server.rs. Prints the bench arguments to use.
# usage: slapd-peer.sh [PORT] [DIR] [nosync]   stop: kill "$(cat DIR/slapd.pid)"
set -eu
port=${1:-3899}
dir=${2:-$(mktemp -d /tmp/slapd-bench.XXXXXX)}
sync_option=""
if [ "${3:-}" = "nosync" ]; then sync_option="dbnosync"; fi
mkdir -p "$dir/db"
cat > "$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
pidfile $dir/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel 0
database mdb
maxsize 4294967296
suffix "dc=bench"
rootdn "cn=admin,dc=bench"
rootpw secret
directory $dir/db
index objectClass eq
index cn eq
$sync_option
CONF
/usr/sbin/slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if ldapsearch -x -H "ldap://127.0.0.1:$port/" -b "" -s base >/dev/null 2>&1; then break; fi
  sleep 0.2
done
ldapadd -x -H "ldap://127.0.0.1:$port/" -D "cn=admin,dc=bench" -w secret >/dev/null <<LDIF
dn: dc=bench
objectClass: dcObject
objectClass: organization
o: bench
dc: bench

dn: ou=devices,dc=bench
objectClass: organizationalUnit
ou: devices
LDIF
echo "--url ldap://127.0.0.1:$port --bind-dn cn=admin,dc=bench --password secret --base ou=devices,dc=bench --kind openldap"
echo "dir $dir"
