# shellcheck shell=bash
# Gives CI a Docker engine and devwb's Samba AD DC image, so the Samba suite runs for real.
#
# Sourced by .ci/run (as root, from the repository root):
#
#     source .ci/docker.sh
#
# It installs Debian's docker.io and mmdebstrap when missing, starts dockerd in the background when
# no daemon answers (log: target/ci/dockerd.log), and starts building the image in the background
# with `cargo xtask samba-image` (which reuses an image of the same tag; log:
# target/ci/samba-image.log); `devwb_docker_wait_image` waits for it and prints its log. When it started dockerd, an EXIT trap stops that daemon,
# and only that one, when .ci/run ends; an EXIT trap set before this file is sourced still runs.
#
# It never fails CI: when Docker cannot run here it says why, and the Samba suite then reports that
# it did not run (devwb_samba::docker_available gives the reason again in the test output).
# It can also be run on its own: `bash .ci/docker.sh` (then the daemon it starts is stopped at the
# end of that run, which is only useful to check that everything installs and builds).

devwb_docker_log_dir=target/ci
devwb_docker_started_pid=""

devwb_docker_say() { printf 'ci: docker: %s\n' "$*"; }

# Installs the named Debian packages; refreshes the package lists once if the first try fails.
devwb_docker_apt_install() {
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
        return 0
    fi
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

# Stops the daemon this file started (EXIT trap): SIGTERM, then up to 20 s for it to exit.
devwb_docker_stop_started_daemon() {
    local pid=$devwb_docker_started_pid
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        # Containers of the Samba image that a killed test run left behind (testcontainers removes the
        # others when their handles drop). Only on the daemon this run started.
        local image leftovers
        image=$(cargo xtask samba-image --print-ref 2>/dev/null)
        if [ -n "$image" ]; then
            leftovers=$(docker ps -aq --filter "ancestor=$image" --filter "label=org.testcontainers.managed-by=testcontainers" 2>/dev/null)
            if [ -n "$leftovers" ]; then
                devwb_docker_say "removing leftover Samba containers: $(echo "$leftovers" | tr '\n' ' ')"
                # shellcheck disable=SC2086 # one id a word
                docker rm -f $leftovers >/dev/null 2>&1
            fi
        fi
        devwb_docker_say "stopping the dockerd this run started (pid $pid)"
        kill -TERM "$pid" 2>/dev/null
        local _
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            devwb_docker_say "dockerd (pid $pid) still runs 20 s after SIGTERM; leaving it"
        fi
    fi
    devwb_docker_started_pid=""
}

devwb_docker_setup() {
    local started=$SECONDS
    mkdir -p "$devwb_docker_log_dir"

    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            devwb_docker_say "not installing ${missing[*]}: not root"
        else
            devwb_docker_say "installing ${missing[*]}"
            devwb_docker_apt_install "${missing[@]}" || devwb_docker_say "could not install ${missing[*]} with apt-get"
        fi
    fi
    if ! command -v docker >/dev/null 2>&1; then
        devwb_docker_say "no docker client on PATH: the Samba suite will not run"
        return 1
    fi

    if docker info >/dev/null 2>&1; then
        devwb_docker_say "using the running Docker daemon"
    elif ! command -v dockerd >/dev/null 2>&1; then
        devwb_docker_say "no Docker daemon answers and dockerd is not installed: the Samba suite will not run"
        return 1
    else
        local log=$devwb_docker_log_dir/dockerd.log
        devwb_docker_say "starting dockerd (log: $log)"
        dockerd >"$log" 2>&1 &
        devwb_docker_started_pid=$!
        local previous_exit_trap
        previous_exit_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
        # shellcheck disable=SC2064 # the earlier trap's text is meant to be expanded now
        trap "devwb_docker_stop_started_daemon; ${previous_exit_trap:-:}" EXIT
        local waited=0
        until docker info >/dev/null 2>&1; do
            if ! kill -0 "$devwb_docker_started_pid" 2>/dev/null; then
                devwb_docker_say "dockerd exited at start; the last lines of its log:"
                tail -n 15 "$log" | sed 's/^/ci: docker:   /'
                devwb_docker_started_pid=""
                devwb_docker_say "the Samba suite will not run"
                return 1
            fi
            if [ "$waited" -ge 60 ]; then
                devwb_docker_say "dockerd did not answer within 30 s; the last lines of its log:"
                tail -n 15 "$log" | sed 's/^/ci: docker:   /'
                devwb_docker_stop_started_daemon
                devwb_docker_say "the Samba suite will not run"
                return 1
            fi
            sleep 0.5
            waited=$((waited + 1))
        done
        devwb_docker_say "dockerd answers (pid $devwb_docker_started_pid)"
    fi

    # The image build is mostly downloads and disk (mmdebstrap): it runs in the background while
    # the caller compiles, and devwb_docker_wait_image waits for it.
    local image_log=$devwb_docker_log_dir/samba-image.log
    devwb_docker_say "building the Samba image in the background (log: $image_log)"
    cargo xtask samba-image >"$image_log" 2>&1 &
    devwb_docker_image_pid=$!
    devwb_docker_image_started=$started
}

devwb_docker_image_pid=""
devwb_docker_image_started=$SECONDS

# Waits for the background image build; says whether the Samba suite can run. Never fails.
devwb_docker_wait_image() {
    local pid=$devwb_docker_image_pid
    [ -n "$pid" ] || return 0
    devwb_docker_image_pid=""
    if wait "$pid"; then
        sed 's/^/ci: docker:   /' "$devwb_docker_log_dir/samba-image.log"
        devwb_docker_say "ready in $((SECONDS - devwb_docker_image_started)) s"
    else
        sed 's/^/ci: docker:   /' "$devwb_docker_log_dir/samba-image.log" | tail -n 30
        devwb_docker_say "the Samba image could not be built (see above): the Samba suite will not run"
    fi
}

devwb_docker_setup || devwb_docker_say "continuing without the Samba suite"
