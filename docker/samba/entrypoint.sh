#!/bin/bash
# Entry point of devwb's Samba AD DC image (docker/samba/).
#
# Provisions a domain on first start from the environment, starts Samba in the foreground process
# model "single", waits until LDAPS answers a rootDSE query made with ldapsearch inside the
# container, and only then prints the readiness line that devwb-samba waits for:
#
#     devwb-samba: ready: LDAPS answers a rootDSE query
#
# Environment (defaults in brackets):
#   REALM          Kerberos realm and DNS domain                   [DEVWB.TEST]
#   DOMAIN         NetBIOS domain name                             [first label of REALM]
#   ADMIN_PASSWORD password of DOMAIN\Administrator; Samba demands a complex one
#                                                                  [Devwb-Admin-Passw0rd!]
#   BASE_SCHEMA    2008_R2 | 2012_R2 (Samba's --base-schema)        [2012_R2]
#                  (Debian's samba-ad-provision 4.17 lacks the 2012 schema files)
#   HOST_NAME      the DC's host name (NetBIOS name, <= 15 chars)  [dc1]
#   READY_TIMEOUT  seconds to wait for LDAPS before giving up      [120]
#
# `entrypoint.sh --make-templates` (run once when the image is built) provisions the default
# settings for each base schema and keeps the result under /usr/share/devwb-samba/templates. A
# container whose settings are exactly the defaults copies that forest (TLS key included) instead of
# provisioning, which saves the 3 to 10 s provisioning takes; any other setting provisions as
# described above.
#
# Everything goes to stdout. The password is never printed. Exit status: 64 on a bad setting, 70
# when provisioning fails, 71 when LDAPS does not answer in time, otherwise Samba's own exit status.
set -euo pipefail

readonly READY_LINE='devwb-samba: ready: LDAPS answers a rootDSE query'
readonly TEMPLATES=/usr/share/devwb-samba/templates
readonly DEFAULT_REALM=DEVWB.TEST
readonly DEFAULT_ADMIN_PASSWORD='Devwb-Admin-Passw0rd!'
readonly DEFAULT_HOST_NAME=dc1
# What provisioning writes: Samba's state and cache directories and its configuration file.
readonly STATE_PATHS=(/var/lib/samba /var/cache/samba /etc/samba/smb.conf)

say() { printf 'devwb-samba: %s\n' "$*"; }
# Errors go to stdout too: testcontainers shows the stdout it read when the container exits early.
fail() {
    local code=$1
    shift
    printf 'devwb-samba: error: %s\n' "$*"
    exit "$code"
}

REALM=${REALM:-$DEFAULT_REALM}
REALM=${REALM^^}
DOMAIN=${DOMAIN:-${REALM%%.*}}
DOMAIN=${DOMAIN^^}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-$DEFAULT_ADMIN_PASSWORD}
BASE_SCHEMA=${BASE_SCHEMA:-2012_R2}
HOST_NAME=${HOST_NAME:-$DEFAULT_HOST_NAME}
READY_TIMEOUT=${READY_TIMEOUT:-120}

# Provisions a forest from REALM, DOMAIN, HOST_NAME, ADMIN_PASSWORD and BASE_SCHEMA.
provision() {
    # Debian's package ships a member-server smb.conf; provision writes its own.
    rm -f /etc/samba/smb.conf
    local started
    started=$(date +%s)
    # Only LDAP (with LDAPS) and the KDC are started: devwb speaks LDAP, and fewer services start
    # faster. Provision writes NT ACLs on the sysvol share as extended attributes. Samba's default
    # name, security.NTACL, needs CAP_SYS_ADMIN in the container; user.NTACL needs no extra
    # capability, so the container runs with Docker's default privileges (sysvol ACLs do not matter
    # here: smbd is not run).
    if ! samba-tool domain provision \
        --server-role=dc \
        --realm="$REALM" \
        --domain="$DOMAIN" \
        --host-name="$HOST_NAME" \
        --adminpass="$ADMIN_PASSWORD" \
        --base-schema="$BASE_SCHEMA" \
        --dns-backend=NONE \
        --option="server services = ldap, kdc" \
        --option="acl_xattr:security_acl_name = user.NTACL" \
        >/var/log/devwb-provision.log 2>&1; then
        # The log never holds the password: samba-tool does not echo --adminpass.
        tail -n 25 /var/log/devwb-provision.log
        fail 70 "samba-tool domain provision failed (see the lines above)"
    fi
    say "provisioned in $(($(date +%s) - started)) s"
}

# Starts Samba in the background (samba_pid) and returns once an anonymous rootDSE query over LDAPS
# returns defaultNamingContext: the readiness condition. The certificate is Samba's self-signed one
# (generated at its first start), hence LDAPTLS_REQCERT=never; timeout guards against a hang.
start_samba_and_wait_for_ldaps() {
    samba -i -M single --debug-stdout &
    samba_pid=$!
    # docker stop sends SIGTERM to PID 1: pass it on so Samba stops cleanly.
    trap 'kill -TERM "$samba_pid" 2>/dev/null' TERM INT
    local deadline=$(($(date +%s) + READY_TIMEOUT))
    until LDAPTLS_REQCERT=never timeout 10 \
        ldapsearch -LLL -o nettimeout=5 -H ldaps://127.0.0.1 -x -b '' -s base defaultNamingContext 2>/dev/null |
        grep -q '^defaultNamingContext: '; do
        if ! kill -0 "$samba_pid" 2>/dev/null; then
            wait "$samba_pid" || true
            fail 71 "samba exited before LDAPS answered"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            fail 71 "LDAPS did not answer a rootDSE query within $READY_TIMEOUT s"
        fi
        sleep 0.2
    done
}

if [ "${1:-}" = "--make-templates" ]; then
    mkdir -p "$TEMPLATES/pristine"
    cp -a --parents "${STATE_PATHS[@]}" "$TEMPLATES/pristine"
    for BASE_SCHEMA in 2012_R2 2008_R2; do
        REALM=$DEFAULT_REALM DOMAIN=${DEFAULT_REALM%%.*} HOST_NAME=$DEFAULT_HOST_NAME
        ADMIN_PASSWORD=$DEFAULT_ADMIN_PASSWORD
        say "making the template for realm $REALM, base schema $BASE_SCHEMA"
        provision
        # One start checks the forest serves LDAPS and makes Samba generate its TLS key and
        # certificate, which then need not be generated at each container start.
        start_samba_and_wait_for_ldaps
        kill -TERM "$samba_pid"
        wait "$samba_pid" || true
        trap - TERM INT
        mkdir -p "$TEMPLATES/$BASE_SCHEMA"
        cp -a --parents "${STATE_PATHS[@]}" "$TEMPLATES/$BASE_SCHEMA"
        # Back to the packages' state for the next template and for containers that provision.
        rm -rf /var/lib/samba /var/cache/samba /etc/samba/smb.conf
        cp -a "$TEMPLATES/pristine/." /
    done
    rm -rf "$TEMPLATES/pristine"
    exit 0
fi

case "$REALM" in
    *.*) ;;
    *) fail 64 "REALM must be a dotted DNS name such as DEVWB.TEST, got '$REALM'" ;;
esac
case "$BASE_SCHEMA" in
    2008_R2 | 2012_R2) ;;
    *) fail 64 "BASE_SCHEMA must be 2008_R2 or 2012_R2, got '$BASE_SCHEMA'" ;;
esac
if [ "${#DOMAIN}" -gt 15 ]; then
    fail 64 "DOMAIN must be at most 15 characters (a NetBIOS name), got '$DOMAIN'"
fi
if [ "${#HOST_NAME}" -gt 15 ]; then
    fail 64 "HOST_NAME must be at most 15 characters (a NetBIOS name), got '$HOST_NAME'"
fi

if [ -f /var/lib/samba/private/sam.ldb ]; then
    say "already provisioned, starting"
elif [ "$REALM" = "$DEFAULT_REALM" ] && [ "$DOMAIN" = "${DEFAULT_REALM%%.*}" ] &&
    [ "$HOST_NAME" = "$DEFAULT_HOST_NAME" ] && [ "$ADMIN_PASSWORD" = "$DEFAULT_ADMIN_PASSWORD" ] &&
    [ -f "$TEMPLATES/$BASE_SCHEMA/var/lib/samba/private/sam.ldb" ]; then
    say "realm $REALM, domain $DOMAIN, base schema $BASE_SCHEMA: using the forest provisioned when the image was built"
    cp -a "$TEMPLATES/$BASE_SCHEMA/." /
else
    say "provisioning realm $REALM, domain $DOMAIN, base schema $BASE_SCHEMA"
    provision
fi

start_samba_and_wait_for_ldaps
printf '%s\n' "$READY_LINE"

# wait returns early when the TERM trap runs: keep waiting until Samba itself has exited.
status=0
wait "$samba_pid" || status=$?
while kill -0 "$samba_pid" 2>/dev/null; do
    # 127: Samba was reaped by the earlier wait; keep the status that wait returned.
    again=0
    wait "$samba_pid" || again=$?
    if [ "$again" -ne 127 ]; then status=$again; fi
done
exit "$status"
