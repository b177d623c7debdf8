#!/bin/bash
# Build the base image and the stage images (run from anywhere; needs apptainer on PATH):
#
#   containers/build.sh [-b docker|debootstrap] [-o DIR] [STAGE...]     (default: all three stages)
#
#   -b docker       the base from the registry, python:3.11-slim-bookworm pinned by digest
#                   (containers/base/docker.def); the default
#   -b debootstrap  the base from Debian's archive, for machines without a registry
#                   (containers/base/debootstrap.def; needs root and debootstrap)
#   -o DIR          where the images go (default containers/): DIR/base.sif, DIR/<stage>.sif
#
# The stage recipes (containers/<stage>.def) are the same whichever base: `Bootstrap:
# localimage` from DIR/base.sif, passed as `--build-arg base=...`. An image is rebuilt only
# when its inputs changed: DIR/<image>.inputs records the SHA-256 of its recipe and lock (and,
# for a stage, of the base's record). Each build is followed by `apptainer test` (the %test).
#
# Stage builds use `--fakeroot` (root's %post may lack capabilities, and non-root users need it;
# it needs a subuid/subgid range for the user). APPTAINER_BUILD_ARGS adds arguments to every
# build. pip inside %post uses the host's pip settings: what `pip config list` reports on the
# host (index, find-links, certificate; not its constraints, since the lock pins every version)
# goes into a pip.conf for the build (PIP_CONFIG_FILE), and every local file or directory it
# names is bound in read-only under /mnt, so a build behind a mirror, a private CA or a local
# wheel store installs as the host would. The lock's hashes still decide what is installed.
# LAYERINFO_PIP_HOST_CONFIG=0 turns this off.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
base_kind=docker
out=$root/containers
while getopts "b:o:h" opt; do
    case $opt in
        b) base_kind=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(data compute figures)
case $base_kind in docker|debootstrap) ;; *) echo "build.sh: -b docker|debootstrap" >&2; exit 2 ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
read -r -a extra <<<"${APPTAINER_BUILD_ARGS:-}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip_binds=()
if [ "${LAYERINFO_PIP_HOST_CONFIG:-1}" != 0 ]; then
    # The host's effective pip settings, with every local path moved under /mnt: /mnt is the
    # directory $tmp/pip (pip.conf and one empty mount point per path), and each host path is
    # bound onto its mount point (a bind needs its destination to exist in the image).
    mkdir "$tmp/pip"
    python3 - "$tmp/pip" >"$tmp/binds" <<'PY' || true
import os, re, subprocess, sys
staging = sys.argv[1]
try:
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                             text=True, check=True).stdout
except (OSError, subprocess.CalledProcessError):
    sys.exit(0)
settings = {}
for line in listing.splitlines():  # global.cert='/x' or :env:.cert='/x'; the environment wins
    match = re.fullmatch(r"(global|:env:)\.([a-z-]+)='(.*)'", line)
    if match and (match[1] == ":env:" or match[2] not in settings):
        settings[match[2]] = match[3]
settings.pop("constraint", None)  # the lock pins every version exactly
mounts = {}
def move(word):
    scheme = "file://" if word.startswith("file://") else ""
    path = word[len(scheme):]
    if not path.startswith("/") or not os.path.exists(path):
        return word
    top = path[: -len("/simple")] if path.endswith("/simple") else path
    if top not in mounts:
        mounts[top] = f"/mnt/{len(mounts)}"
        point = os.path.join(staging, str(len(mounts) - 1))
        os.mkdir(point) if os.path.isdir(top) else open(point, "w").close()
    return scheme + mounts[top] + path[len(top):]
with open(os.path.join(staging, "pip.conf"), "w") as conf:
    conf.write("[global]\n")
    for key, value in settings.items():
        conf.write(f"{key} = {' '.join(move(w) for w in value.split())}\n")
for top, point in mounts.items():
    print(f"{top}:{point}:ro")
PY
    if [ -s "$tmp/pip/pip.conf" ]; then
        pip_binds+=(--bind "$tmp/pip:/mnt:ro")
        while read -r spec; do pip_binds+=(--bind "$spec"); done <"$tmp/binds"
        export APPTAINERENV_PIP_CONFIG_FILE=/mnt/pip.conf
    fi
fi

sha() { sha256sum "$@" | awk '{print $1}'; }

# build IMAGE RECIPE INPUTS-RECORD [apptainer build arguments...]
build() {
    local image=$1 recipe=$2 record=$3 start
    shift 3
    if [ -f "$out/$image.sif" ] && [ -f "$out/$image.inputs" ] && [ "$(cat "$out/$image.inputs")" = "$record" ]; then
        echo "build.sh: $out/$image.sif is up to date"
        return
    fi
    rm -f "$out/$image.inputs"
    start=$(date +%s)
    # %test runs after the build, as `apptainer test` (a build's own %test run asks for every
    # capability as root, which fails where root lacks one; `apptainer test` follows the
    # configured capabilities).
    apptainer build --force --notest "$@" "${extra[@]}" "$out/$image.sif" "$recipe"
    apptainer test "$out/$image.sif"
    echo "$record" >"$out/$image.inputs"
    echo "build.sh: built $out/$image.sif ($(du -m "$out/$image.sif" | cut -f1) MB) in $(($(date +%s) - start)) s"
}

base_recipe=containers/base/$base_kind.def
build base "$base_recipe" "$base_kind $(sha "$base_recipe")"
for stage in "${stages[@]}"; do
    [ -f "containers/$stage.def" ] || { echo "build.sh: no recipe containers/$stage.def" >&2; exit 2; }
    build "$stage" "containers/$stage.def" \
        "$(sha "containers/$stage.def" "containers/$stage.lock" "$out/base.inputs" | tr '\n' ' ')" \
        --fakeroot --build-arg "base=$out/base.sif" "${pip_binds[@]}"
done
