#!/usr/bin/env bash
# Where the time goes: one fio job against qcow2mount and against QEMU's FUSE export, each server
# sampled with `perf record -g` for the length of the job (its threads, user and kernel stacks).
# Prints IOPS and the top symbols of each server side by side. Issue 6: "profile before guessing".
set -uo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/bench/profile.sh [--backing raw|qcow2|none] [--cluster SIZE] [--extl2 on|off]
                                [--rw RW] [--bs SIZE] [--qd N] [--runtime S] [--disk SIZE]
                                [--ours PATH] [--workdir DIR] [--top N]

Defaults: --backing raw --cluster 512k --extl2 off --rw randwrite --bs 4k --qd 1 --runtime 5
--disk 1G --top 25, ours = artifacts/publish/qcow2mount. Needs root, perf, fio, qemu-img,
qemu-storage-daemon. The work directory (default /var/tmp/qcow2mount-profile) keeps the base image.
USAGE
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BACKING=raw CLUSTER=512k EXTL2=off RW=randwrite BS=4k QD=1 RUNTIME=5 DISK=1G TOP=25
OURS=$ROOT/artifacts/publish/qcow2mount WORK=/var/tmp/qcow2mount-profile
while (($#)); do
    case $1 in
        --backing) BACKING=${2:?} ; shift ;;
        --cluster) CLUSTER=${2:?} ; shift ;;
        --extl2) EXTL2=${2:?} ; shift ;;
        --rw) RW=${2:?} ; shift ;;
        --bs) BS=${2:?} ; shift ;;
        --qd) QD=${2:?} ; shift ;;
        --runtime) RUNTIME=${2:?} ; shift ;;
        --disk) DISK=${2:?} ; shift ;;
        --ours) OURS=${2:?} ; shift ;;
        --workdir) WORK=${2:?} ; shift ;;
        --top) TOP=${2:?} ; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

die() { echo "profile: $*" >&2; exit 1; }
((EUID == 0)) || die "needs root (FUSE mounts, perf on other processes)"
for t in perf fio jq qemu-img qemu-storage-daemon fusermount3; do
    command -v "$t" >/dev/null || die "$t is missing (apt-get install linux-perf fio jq qemu-utils qemu-system-common fuse3)"
done
[[ -x $OURS ]] || die "$OURS is not there (dotnet pwsh build.ps1 publish)"

mkdir -p "$WORK" || die "cannot create $WORK"
RUN=$(mktemp -d "$WORK/run.XXXXXX")
SERVER=''
cleanup() {
    [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null
    fusermount3 -u -z "$RUN/mnt" 2>/dev/null
    fusermount3 -u -z "$RUN/q.raw" 2>/dev/null
    rm -rf "$RUN"
}
trap cleanup EXIT

base=$WORK/base-$DISK.$BACKING
if [[ $BACKING != none && ! -f $base ]]; then
    echo "making $base (random data, fully written)" >&2
    fio --name=fill --filename="$WORK/base-$DISK.raw" --rw=write --bs=1M --size="$DISK" --ioengine=psync \
        --refill_buffers=1 --end_fsync=1 >/dev/null 2>&1 || die "could not write the base image"
    [[ $BACKING == qcow2 ]] && { qemu-img convert -f raw -O qcow2 "$WORK/base-$DISK.raw" "$base" || die "convert failed"; }
fi
opts="cluster_size=$CLUSTER,extended_l2=$EXTL2"
[[ $BACKING != none ]] && opts+=",backing_file=$base,backing_fmt=$BACKING"

profile_one() {
    local impl=$1 img=$RUN/disk.qcow2 file
    rm -f "$img"
    qemu-img create -q -f qcow2 -o "$opts" "$img" "$DISK" || die "qemu-img create failed"
    sync
    case $impl in
        ours)
            mkdir -p "$RUN/mnt"
            "$OURS" --foreground "$img" "$RUN/mnt" >"$RUN/ours.log" 2>&1 &
            SERVER=$! file=$RUN/mnt/disk.raw
            ;;
        qemu)
            : >"$RUN/q.raw"
            qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$img" \
                --blockdev driver=qcow2,node-name=q,file=f \
                --export "type=fuse,id=e,node-name=q,mountpoint=$RUN/q.raw,writable=on" >"$RUN/qemu.log" 2>&1 &
            SERVER=$! file=$RUN/q.raw
            ;;
    esac
    for _ in $(seq 200); do [[ -s $file ]] && break; sleep 0.05; done
    [[ -s $file ]] || die "$impl did not serve $file: $(head -c 300 "$RUN/$impl.log")"
    perf record -q -g -p "$SERVER" -o "$RUN/$impl.perf" -- sleep "$((RUNTIME + 1))" >/dev/null 2>&1 &
    local perf=$!
    sleep 0.5
    fio --name=p --filename="$file" --rw="$RW" --bs="$BS" --iodepth="$QD" --ioengine=libaio --direct=1 \
        --time_based --runtime="$RUNTIME" --size="$DISK" --randrepeat=0 --randseed=20261125 \
        --output-format=json >"$RUN/$impl.json" 2>/dev/null
    wait "$perf"
    case $impl in
        ours) fusermount3 -u "$RUN/mnt" ;;
        qemu) kill "$SERVER" ;;
    esac
    wait "$SERVER" 2>/dev/null
    SERVER=''
    local dir=write
    [[ $RW == *read* ]] && dir=read
    jq -r --arg d "$dir" --arg i "$impl" '.jobs[0][$d] | "\($i): \(.iops | floor) IOPS, p50 \(.clat_ns.percentile["50.000000"] / 1000) us, p99 \(.clat_ns.percentile["99.000000"] / 1000) us"' "$RUN/$impl.json"
    perf report -i "$RUN/$impl.perf" --no-children --sort symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n "$TOP" | sed -E 's/ +$//' >"$RUN/$impl.top"
}

echo "profile: $RW bs=$BS qd=$QD ${RUNTIME}s, backing=$BACKING cluster=$CLUSTER extl2=$EXTL2, disk $DISK"
profile_one ours
profile_one qemu
echo
printf '%-70s | %s\n' "ours: top symbols (server threads, self time)" "qemu"
paste -d'|' <(cut -c1-70 "$RUN/ours.top" | awk '{ printf "%-70s\n", $0 }') <(cut -c1-70 "$RUN/qemu.top")
