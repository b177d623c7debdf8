#!/bin/bash
# Regenerate the hash-locked requirements of each container stage from the project's pins:
#   containers/lock.sh            (needs uv on PATH, or UV=/path/to/uv; reaches PyPI)
# For each containers/<stage>.in (package names, one a line) the versions are taken from
# requirements.txt and resolved with every dependency and every wheel's SHA-256 for the
# images' Python (3.11, the base image's) on x86_64 Linux, into containers/<stage>.lock.
# `python -m layerinfo.workflow.recipes` checks the result against requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-uv}
for in_file in containers/*.in; do
    stage=$(basename "$in_file" .in)
    pinned=$(mktemp)
    grep -v '^#' "$in_file" | while read -r name; do
        [ -n "$name" ] || continue
        grep -i -E "^${name}==" requirements.txt || { echo "$name is not pinned in requirements.txt" >&2; exit 1; }
    done >"$pinned"
    "$uv" pip compile --quiet --generate-hashes --python-version 3.11 \
        --python-platform x86_64-manylinux_2_28 --custom-compile-command containers/lock.sh \
        "$pinned" -o "containers/$stage.lock"
    rm -f "$pinned"
    echo "containers/$stage.lock: $(grep -c '==' "containers/$stage.lock") packages"
done
