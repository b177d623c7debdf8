#!/bin/bash
# A working Apptainer on a Debian 12 machine without one, for the container test
# (tests/workflow/test_apptainer.py) and for building the images by hand.
#
#   tests/containers/apptainer.sh up DIR     make (or reuse) the Debian sid root tree that holds
#                                            Apptainer, and write DIR/bin/apptainer, a wrapper that
#                                            runs it inside the tree; prints the PATH line to export
#   tests/containers/apptainer.sh down DIR   remove DIR/bin (what `up DIR` made); the tree stays
#   tests/containers/apptainer.sh purge      remove the cached tree as well
#
# Why a tree: bookworm has no apptainer package, and sid's (1.4.5) needs a newer libc than
# bookworm's, so it runs inside a sid root tree made by bookworm's debootstrap (downloaded with
# apt-get, extracted, not installed) from the Debian mirror configured in /etc/apt (about a
# minute; LAYERINFO_DEBIAN_MIRROR overrides it). The tree is cached in
# LAYERINFO_APPTAINER_TREE (default /var/tmp/layerinfo-apptainer/sid) and reused by later runs.
# Apptainer refuses a plain chroot ("weak chrooted environment"), so the wrapper enters the tree
# in a private mount namespace (unshare -m) with pivot_root, after binding in /proc, /sys, /dev,
# /tmp, /var/tmp, the current directory, this checkout, every path given to --bind/-B/--home and
# the colon-separated paths of APPTAINER_WRAP_BINDS, each at its own path. Nothing is mounted
# on the host and no process outlives the command (the namespace dies with it).
# Image builds need `--fakeroot` (a root %post lacks CAP_SYS_MODULE here); the tree maps root to
# 100000:65536 in its subuid/subgid for that. Needs root and Linux.
set -euo pipefail

cmd=${1:?usage: apptainer.sh up|down DIR | purge}
here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/../.." && pwd)
tree=$(realpath -m "${LAYERINFO_APPTAINER_TREE:-/var/tmp/layerinfo-apptainer/sid}")
packages=apptainer,squashfs-tools,uidmap,ca-certificates,debootstrap

mirror() {
    if [ -n "${LAYERINFO_DEBIAN_MIRROR:-}" ]; then echo "$LAYERINFO_DEBIAN_MIRROR"; return; fi
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\([^ ]*\).*/\1/p' \
        | grep -v -- '-security' | head -n 1)
    [ -n "$uri" ] || uri=$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null \
        | grep -v -- '-security' | head -n 1)
    echo "${uri:-http://deb.debian.org/debian}"
}

# Run "$@" in the background and wait for it at most $1 seconds; kill it by its PID on timeout.
run_limited() {
    local limit=$1 pid waited=0
    shift
    "$@" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge "$((limit * 10))" ]; then
            echo "apptainer.sh: '$1' ran over ${limit}s; stopping it (PID $pid)" >&2
            kill "$pid" 2>/dev/null || true
            sleep 2
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 124
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    wait "$pid"
}

make_tree() {
    local work partial
    work=$(mktemp -d /var/tmp/layerinfo-debootstrap.XXXXXX)
    partial=$tree.partial
    rm -rf "$partial"
    mkdir -p "$(dirname "$tree")"
    echo "apptainer.sh: making the sid tree $tree with $packages from $(mirror) (about a minute)" >&2
    (cd "$work" && apt-get download debootstrap >download.log 2>&1) \
        || { apt-get update >/dev/null 2>&1 && (cd "$work" && apt-get download debootstrap >download.log 2>&1); }
    dpkg -x "$work"/debootstrap_*.deb "$work/dbs"
    if ! DEBOOTSTRAP_DIR=$work/dbs/usr/share/debootstrap run_limited 900 \
        "$work/dbs/usr/sbin/debootstrap" --variant=minbase --include="$packages" \
        sid "$partial" "$(mirror)" >"$work/debootstrap.log" 2>&1; then
        tail -n 30 "$work/debootstrap.log" >&2
        rm -rf "$partial" "$work"
        return 1
    fi
    for file in subuid subgid; do
        grep -q '^root:' "$partial/etc/$file" 2>/dev/null || echo "root:100000:65536" >>"$partial/etc/$file"
    done
    mkdir -p "$partial/.oldroot"
    configure "$partial"
    rm -rf "$work"
    mv "$partial" "$tree"
}

# Root's containers keep the capabilities that root holds on this machine: Apptainer's default
# for root ("full") asks for every one, and where the host lacks one (here CAP_SYS_RESOURCE,
# as CapBnd in /proc/self/status shows) every root container fails at start ("Requesting
# capability set 0x1ffffffffff while permitted capability set is ..."), %test included.
capabilities=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
    SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE)
configure() {
    local held i sep=""
    held=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
    sed -i 's/^root default capabilities = .*/root default capabilities = file/' \
        "$1/etc/apptainer/apptainer.conf"
    {
        printf '{\n\t"users": {\n\t\t"root": ['
        for i in "${!capabilities[@]}"; do
            if (((held >> i) & 1)); then printf '%s\n\t\t\t"CAP_%s"' "$sep" "${capabilities[i]}"; sep=,; fi
        done
        printf '\n\t\t]\n\t}\n}\n'
    } >"$1/etc/apptainer/capability.json"
}

write_wrapper() {
    local bin=$1
    mkdir -p "$bin"
    cat >"$bin/apptainer" <<WRAPPER
#!/bin/bash
# apptainer from the sid tree $tree, made by tests/containers/apptainer.sh up.
# Runs it there in a private mount namespace; host paths keep their names inside the tree.
set -euo pipefail
tree=$tree
binds=(/etc/hosts /etc/resolv.conf /tmp /var/tmp "\$PWD" $checkout)
IFS=: read -r -a extra <<<"\${APPTAINER_WRAP_BINDS:-}"
binds+=("\${extra[@]}")
args=("\$@")
for ((i = 0; i < \${#args[@]}; i++)); do
    case "\${args[i]}" in
        --bind|-B|--home) value=\${args[i+1]:-} ;;
        --bind=*|--home=*) value=\${args[i]#*=} ;;
        *) continue ;;
    esac
    IFS=, read -r -a specs <<<"\$value"
    for spec in "\${specs[@]}"; do binds+=("\${spec%%:*}"); done
done
exec unshare -m --propagation private /bin/bash -c '
    set -e
    tree=\$1; shift
    mount --bind "\$tree" "\$tree"
    mount -t proc proc "\$tree/proc"
    mount --rbind /sys "\$tree/sys"
    mount --rbind /dev "\$tree/dev"
    while [ "\$1" != -- ]; do
        path=\$(realpath -m "\$1"); shift
        case "\$path" in /|"\$tree"|"\$tree"/*) continue ;; esac
        if [ -d "\$path" ]; then mkdir -p "\$tree\$path"
        elif [ -e "\$path" ]; then mkdir -p "\$(dirname "\$tree\$path")"; touch "\$tree\$path"
        else continue; fi
        mount --bind "\$path" "\$tree\$path"
    done
    shift
    cwd=\$PWD
    cd "\$tree"
    pivot_root . .oldroot
    umount -l /.oldroot
    cd "\$cwd"
    exec /usr/bin/apptainer "\$@"
' wrapper "\$tree" "\${binds[@]}" -- "\$@"
WRAPPER
    chmod 755 "$bin/apptainer"
}

up() {
    local dir=$1
    if [ "$(id -u)" != 0 ] || [ "$(uname -s)" != Linux ]; then
        echo "apptainer.sh: needs root on Linux" >&2
        exit 1
    fi
    if [ ! -x "$tree/usr/bin/apptainer" ]; then
        make_tree
    else
        echo "apptainer.sh: reusing the sid tree $tree" >&2
    fi
    configure "$tree"
    write_wrapper "$dir/bin"
    local version
    if ! version=$(cd / && "$dir/bin/apptainer" --version 2>&1); then
        echo "apptainer.sh: the wrapper does not run: $version" >&2
        exit 1
    fi
    echo "apptainer.sh: $version; sid tree $tree; wrapper $dir/bin/apptainer" >&2
    echo "export PATH=$dir/bin:\$PATH"
}

down() {
    local dir=$1
    rm -f "$dir/bin/apptainer"
    rmdir "$dir/bin" 2>/dev/null || true
}

case $cmd in
    up) up "$(realpath -m "${2:?usage: apptainer.sh up DIR}")" ;;
    down) down "$(realpath -m "${2:?usage: apptainer.sh down DIR}")" ;;
    purge) rm -rf "$tree" "$tree.partial"; echo "apptainer.sh: removed $tree" >&2 ;;
    *) echo "usage: apptainer.sh up|down DIR | purge" >&2; exit 2 ;;
esac
