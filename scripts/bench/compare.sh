#!/usr/bin/env bash
# qcow2mount compare against qemu-img compare on the same images: wall time (median of N runs), both verdicts.
# Usage: scripts/bench/compare.sh [--rounds N] [--workdir DIR] [--ours "COMMAND"]
# Prints a Markdown table. The images are made with qemu-img/qemu-io in WORKDIR and deleted afterwards.
set -euo pipefail

ROUNDS=3
WORKDIR=${TMPDIR:-/tmp}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OURS=""
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        --ours) OURS=$2; shift 2 ;;
        *) echo "compare.sh: unknown argument $1" >&2; exit 1 ;;
    esac
done

if [ -z "$OURS" ]; then
    if [ -x "$ROOT/artifacts/publish/qcow2mount" ]; then
        OURS="$ROOT/artifacts/publish/qcow2mount"
    else
        OURS="dotnet $ROOT/src/Qcow2Mount.Cli/bin/Release/net10.0/qcow2mount.dll"
    fi
fi

DIR=$(mktemp -d "$WORKDIR/q2m-compare-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"

# io IMAGE COUNT SPAN PATTERN: COUNT 4 KiB writes at seeded random 4 KiB-aligned offsets below SPAN bytes.
io() {
    local image=$1 count=$2 span=$3 pattern=$4 args=()
    RANDOM=20261206
    for _ in $(seq "$count"); do
        args+=(-c "write -P $pattern $(( ((RANDOM << 15 | RANDOM) % (span / 4096)) * 4096 )) 4k")
    done
    qemu-io -f qcow2 "${args[@]}" "$image" >/dev/null
}

# time_of COMMAND...: wall seconds of the median of ROUNDS runs, and the last run's first output line.
time_of() {
    local times=() out
    for _ in $(seq "$ROUNDS"); do
        local start=$EPOCHREALTIME
        out=$("$@" 2>&1 | head -1) || true
        times+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
    done
    printf '%s\t%s\n' "$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" "$out"
}

row() {
    local name=$1 a=$2 b=$3 q o
    q=$(time_of qemu-img compare "$a" "$b")
    # shellcheck disable=SC2086  # OURS may be "dotnet path.dll"
    o=$(time_of $OURS compare "$a" "$b")
    printf '| %s | %s s | %s s | %s | %s |\n' "$name" "${o%%$'\t'*}" "${q%%$'\t'*}" "${o#*$'\t'}" "${q#*$'\t'}"
}

echo "preparing images in $DIR" >&2
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=131072 s1.qcow2 1T
io s1.qcow2 2000 $((1 << 40)) 1
cp --sparse=always s1.qcow2 s2.qcow2
qemu-img create -q -f qcow2 -o cluster_size=65536 base.qcow2 2G
qemu-io -f qcow2 -c "write -P 17 0 1G" -c "write -P 17 1G 1G" base.qcow2 >/dev/null
for t in o1 o2; do
    qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=131072 -b base.qcow2 -F qcow2 $t.qcow2
    io $t.qcow2 1000 $((2 << 30)) 2
done
qemu-img create -q -f qcow2 -o cluster_size=65536 f1.qcow2 1G
qemu-io -f qcow2 -c "write -P 5 0 1G" f1.qcow2 >/dev/null
qemu-img convert -O raw f1.qcow2 f1.raw
cp f1.qcow2 f2.qcow2
qemu-io -f qcow2 -c "write -P 6 1073741823 1" f2.qcow2 >/dev/null

echo "| images | qcow2mount | qemu-img | qcow2mount says | qemu-img says |"
echo "| --- | ---: | ---: | --- | --- |"
row "1 TiB sparse, extended L2, 2,000 random 4 KiB writes, identical" s1.qcow2 s2.qcow2
row "two overlays of one 2 GiB base, 1,000 random 4 KiB writes each" o1.qcow2 o2.qcow2
row "1 GiB fully written vs its raw copy" f1.qcow2 f1.raw
row "1 GiB fully written, last byte differs" f1.qcow2 f2.qcow2
