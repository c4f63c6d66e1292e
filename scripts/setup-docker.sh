#!/usr/bin/env bash
# Prepare a bare Debian bookworm machine (as root, no container registry) to build and run
# kubeless-runtime images:
#   1. install Debian's docker.io and debootstrap if missing;
#   2. start dockerd in the background if no engine answers, and wait (bounded) for it;
#   3. build the base images debian:bookworm-slim and debian:trixie-slim offline with
#      debootstrap + `docker import`, slimmed like Debian's official -slim images, if absent.
#
# Idempotent: every step checks first and does nothing when already done, so CI and developers
# can run it before every test run.  Used by .ci/run.
#
# Environment knobs (all optional):
#   DEBIAN_MIRROR     mirror for debootstrap and the images' sources (default: the Debian mirror
#                     this host's own apt sources use)
#   SECURITY_MIRROR   security mirror for bookworm (default: the host's security source;
#                     set to "" to leave security updates out of sources)
#   DOCKERD_LOG       where the background dockerd logs (default /tmp/dockerd.log)
#   DOCKER_WAIT       seconds to wait for the engine to answer (default 60)
#   BASE_SUITES       suites to build (default "bookworm trixie")
#   FORCE_BASE=1      rebuild the base images even when present
set -euo pipefail

# The host's own apt configuration names its mirrors; no mirror is written in this script.
host_mirror() {  # $1: "main" or "security"
    local uris
    uris=$( { grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
                /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
            | grep -oE 'https?://[^[:space:]]+' | sed 's#/*$##' | awk '!seen[$0]++')
    if [ "$1" = security ]; then
        printf '%s\n' "$uris" | grep -E -- '-security$' | head -n1
    else
        printf '%s\n' "$uris" | grep -E '/debian$' | head -n1
    fi
}
DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(host_mirror main)}"
SECURITY_MIRROR="${SECURITY_MIRROR-$(host_mirror security)}"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
DOCKER_WAIT="${DOCKER_WAIT:-60}"
BASE_SUITES="${BASE_SUITES:-bookworm trixie}"
FORCE_BASE="${FORCE_BASE:-0}"
export DEBIAN_FRONTEND=noninteractive

T0=$SECONDS
log() { printf '[setup-docker %3ss] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[setup-docker] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts dockerd)"
[ -n "$DEBIAN_MIRROR" ] || die "no Debian mirror in this host's apt sources; set DEBIAN_MIRROR to one"

# --- 1. packages ---------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
    t=$SECONDS
    log "installing ${need[*]} (apt-get update first)"
    apt-get update -qq
    # iptables and ca-certificates are what dockerd and the image builds need; the other
    # recommends of docker.io (git, apparmor, ...) are not.
    apt-get install -y -qq --no-install-recommends "${need[@]}" iptables ca-certificates \
        >/tmp/setup-docker-apt.log 2>&1 || { tail -30 /tmp/setup-docker-apt.log >&2; die "apt-get install ${need[*]} failed (log: /tmp/setup-docker-apt.log)"; }
    log "installed ${need[*]} in $((SECONDS - t))s"
else
    log "dockerd and debootstrap already installed"
fi

# --- 2. engine -----------------------------------------------------------------------------
engine_up() { timeout 10 docker info >/dev/null 2>&1; }
# A live (not zombie) process with that pid; a killed daemon can linger as a zombie.
alive() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$state" ] && [ "${state#Z}" = "$state" ]; }
live_dockerd() {
    local pid
    for pid in $(pgrep -x dockerd 2>/dev/null); do
        if alive "$pid"; then echo "$pid"; return 0; fi
    done
    return 1
}
if engine_up; then
    log "a Docker engine already answers"
else
    t=$SECONDS
    if pid=$(live_dockerd); then
        log "dockerd (pid $pid) is running but does not answer yet; waiting"
    else
        # A daemon that was killed leaves its pid file behind; dockerd refuses to start
        # while the file names a live process, and ignores a stale one.
        log "starting dockerd in the background (log: $DOCKERD_LOG)"
        # setsid + nohup: the daemon outlives this script and the shell that ran it.
        setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
        pid=$!
    fi
    deadline=$((SECONDS + DOCKER_WAIT))
    until engine_up; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -30 "$DOCKERD_LOG" >&2 || true
            die "no Docker engine answered within ${DOCKER_WAIT}s (see $DOCKERD_LOG)"
        fi
        if ! alive "$pid" && ! live_dockerd >/dev/null; then
            tail -30 "$DOCKERD_LOG" >&2 || true
            die "dockerd exited (see $DOCKERD_LOG)"
        fi
        sleep 1
    done
    log "engine answers after $((SECONDS - t))s: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null || echo '?')"
fi

# --- 3. base images ------------------------------------------------------------------------
# Slimming rules of Debian's official -slim images (debuerreotype's slimify): documentation,
# man pages, info pages and translations are never unpacked, copyright files are kept.
DPKG_EXCLUDES='# Written by kubeless-runtime scripts/setup-docker.sh, like the official -slim images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias'

# Like the official images' /etc/apt/apt.conf.d/docker-*: clean the .deb cache after every
# install, keep no binary caches, fetch no translations, do not install recommends.
APT_CLEAN='# Written by kubeless-runtime scripts/setup-docker.sh (like docker-clean).
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";'
APT_NO_LANG='Acquire::Languages "none";'
APT_GZIP='Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";'
APT_NO_RECOMMENDS='APT::Install-Recommends "false";
APT::AutoRemove::SuggestsImportant "false";'

slim_rootfs() {
    local dir=$1 suite=$2
    install -d "$dir/etc/dpkg/dpkg.cfg.d" "$dir/etc/apt/apt.conf.d"
    printf '%s\n' "$DPKG_EXCLUDES" >"$dir/etc/dpkg/dpkg.cfg.d/docker"
    printf '%s\n' "$APT_CLEAN" >"$dir/etc/apt/apt.conf.d/docker-clean"
    printf '%s\n' "$APT_NO_LANG" >"$dir/etc/apt/apt.conf.d/docker-no-languages"
    printf '%s\n' "$APT_GZIP" >"$dir/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf '%s\n' "$APT_NO_RECOMMENDS" >"$dir/etc/apt/apt.conf.d/docker-no-recommends"
    # Services must not start inside image builds.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"

    # Sources apt uses inside the containers (plain http: no CA bundle needed).
    rm -f "$dir/etc/apt/sources.list"
    {
        echo "Types: deb"
        echo "URIs: $DEBIAN_MIRROR"
        if [ "$suite" = bookworm ]; then
            echo "Suites: $suite $suite-updates"
        else
            echo "Suites: $suite"
        fi
        echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        if [ "$suite" = bookworm ] && [ -n "$SECURITY_MIRROR" ]; then
            echo
            echo "Types: deb"
            echo "URIs: $SECURITY_MIRROR"
            echo "Suites: $suite-security"
            echo "Components: main"
            echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        fi
    } >"$dir/etc/apt/sources.list.d/debian.sources"

    # Remove what the excludes would have kept out, plus caches and logs of the bootstrap.
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/groff/* "$dir"/usr/share/info/* \
        "$dir"/usr/share/lintian/* "$dir"/usr/share/linda/* \
        "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/archives/partial/* \
        "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
        "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old \
        "$dir"/var/log/* "$dir"/tmp/* "$dir"/root/.cache
    install -d "$dir/var/lib/apt/lists/partial" "$dir/var/cache/apt/archives/partial"
    # A container gets its own resolv.conf and hostname from the engine.
    : >"$dir/etc/resolv.conf"
    echo localhost >"$dir/etc/hostname"
    # Regenerated per container like the official images do (systemd would do it on boot).
    : >"$dir/etc/machine-id"
    rm -f "$dir/var/lib/dbus/machine-id"
}

CLEANUP_DIR=
trap '[ -z "$CLEANUP_DIR" ] || rm -rf "$CLEANUP_DIR"' EXIT

build_base() {
    local suite=$1 tag="debian:$1-slim" t dir
    if [ "$FORCE_BASE" != 1 ] && docker image inspect "$tag" >/dev/null 2>&1; then
        log "$tag already present ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
        return
    fi
    t=$SECONDS
    dir=$(mktemp -d "/tmp/rootfs-$suite.XXXXXX")
    CLEANUP_DIR=$dir
    log "debootstrap --variant=minbase $suite from $DEBIAN_MIRROR"
    if ! debootstrap --variant=minbase "$suite" "$dir" "$DEBIAN_MIRROR" \
            >"/tmp/debootstrap-$suite.log" 2>&1; then
        tail -30 "/tmp/debootstrap-$suite.log" >&2
        die "debootstrap $suite failed (log: /tmp/debootstrap-$suite.log)"
    fi
    slim_rootfs "$dir" "$suite"
    log "importing $tag ($(du -sm "$dir" | cut -f1) MB rootfs)"
    tar --numeric-owner --xattrs -C "$dir" -c . | docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --message "debootstrap --variant=minbase $suite, slimmed (kubeless-runtime setup-docker.sh)" \
        - "$tag" >/dev/null
    rm -rf "$dir"
    CLEANUP_DIR=
    log "built $tag in $((SECONDS - t))s ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

for suite in $BASE_SUITES; do
    build_base "$suite"
done

log "done in $((SECONDS - T0))s"
