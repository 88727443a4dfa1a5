# Shared by benches/sync.sh and benches/scale.sh (sourced, not run): the release build of devwb
# and adsim, timing a command, and reading the forest's domain SID. Each function names its
# caller's prefix ($bench) in its messages and writes into the caller's $work directory.

# Builds devwb and adsim in release; sets $devwb and $adsim. Under `cargo xtask bench`, cargo run
# has set CARGO_PKG_*, CARGO_MANIFEST_DIR and the like for xtask; build scripts that watch those
# (rerun-if-env-changed) would then see a change and the nested build would rebuild their
# crates, and again on the next build outside xtask: they are unset first.
build_release() {
    local name
    while read -r name; do
        unset "$name"
    done < <(compgen -e | grep -E '^CARGO_(PKG_|MANIFEST_|CRATE_|BIN_|PRIMARY_PACKAGE)' || true)
    cargo build -q --release -p devwb --bin devwb -p devwb-simulator --bin adsim
    devwb="${CARGO_TARGET_DIR:-target}/release/devwb"
    adsim="${CARGO_TARGET_DIR:-target}/release/adsim"
}

# timed NAME COMMAND...: runs it under /usr/bin/time -v, bounded by $timed_limit seconds
# (default 300); sets $wall (s) and $rss (MiB); its output goes to $work/NAME.{out,err,time}.
wall=""
rss=""
timed() {
    local name=$1
    shift
    if ! timeout "${timed_limit:-300}" /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
        tail -20 "$work/$name.err" >&2
        echo "$bench: $name failed: $*" >&2
        exit 1
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$work/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/$name.time")
}

# domain_sid URL ADMIN_DN PASSWORD_FILE: the objectSid of DC=contoso,DC=lab as S-1-5-21-...
# (LDAPTLS_CACERT set by the caller for ldaps).
domain_sid() {
    ldapsearch -x -LLL -o ldif-wrap=no -H "$1" -D "$2" -y "$3" -b DC=contoso,DC=lab -s base objectSid |
        sed -n 's/^objectSid:: //p' |
        python3 -c 'import base64, struct, sys
b = base64.b64decode(sys.stdin.read().strip())
print("S-%d-%d-%s" % (b[0], int.from_bytes(b[2:8], "big"),
      "-".join(str(v) for v in struct.unpack("<%dI" % b[1], b[8:8 + 4 * b[1]]))))'
}
