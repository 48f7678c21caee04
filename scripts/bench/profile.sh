#!/usr/bin/env bash
# Where the time goes: one fio job against qcow2mount and against QEMU's FUSE export, each server
# sampled with `perf record -g` for the length of the job (its threads, user and kernel stacks).
# Prints IOPS, each server's cost per request (CPU time, context switches, kernel/user split of its
# samples) and the top symbols of each server side by side. Issue 6: "profile before guessing".
set -uo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/bench/profile.sh [--backing raw|qcow2|none] [--cluster SIZE] [--extl2 on|off]
                                [--rw RW] [--bs SIZE] [--qd N] [--runtime S] [--disk SIZE]
                                [--ours PATH] [--limit PATH|none] [--workdir DIR] [--top N]

Defaults: --backing raw --cluster 512k --extl2 off --rw randwrite --bs 4k --qd 1 --runtime 5
--disk 1G --top 25, ours = artifacts/publish/qcow2mount, limit = the FUSE limit's Release build
(benchmarks/Qcow2Mount.FuseLimit: our FUSE loop over a null disk of the same size, profiled after
ours when it is built; none leaves it out). Needs root, perf, fio, qemu-img, qemu-storage-daemon.
The work directory (default /var/tmp/qcow2mount-profile) keeps the base image.
USAGE
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BACKING=raw CLUSTER=512k EXTL2=off RW=randwrite BS=4k QD=1 RUNTIME=5 DISK=1G TOP=25
OURS=$ROOT/artifacts/publish/qcow2mount WORK=/var/tmp/qcow2mount-profile
LIMIT=$ROOT/benchmarks/Qcow2Mount.FuseLimit/bin/Release/net10.0/Qcow2Mount.FuseLimit
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
        --limit) LIMIT=${2:?} ; shift ;;
        --workdir) WORK=${2:?} ; shift ;;
        --top) TOP=${2:?} ; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

# The bench's own helpers: the same serving, fio options and base images as scripts/bench.sh.
# shellcheck source=lib.sh
source "$HERE/lib.sh"
((EUID == 0)) || die "needs root (FUSE mounts, perf on other processes)"
for t in perf fio jq qemu-img qemu-storage-daemon fusermount3; do
    command -v "$t" >/dev/null || die "$t is missing (apt-get install linux-perf fio jq qemu-utils qemu-system-common fuse3)"
done
[[ -x $OURS ]] || die "$OURS is not there (dotnet pwsh build.ps1 publish)"
[[ $LIMIT == none || -x $LIMIT ]] || { log "profile: no FUSE limit at $LIMIT (dotnet build -c Release benchmarks/Qcow2Mount.FuseLimit); left out"; LIMIT=none; }

mkdir -p "$WORK" || die "cannot create $WORK"
CACHE=$WORK RUN=$(mktemp -d "$WORK/run.XXXXXX") NOTES=/dev/null FIO_SEED=20261125
trap 'force_stop; release_memory; rm -rf "$RUN"' EXIT

backing=()
case $BACKING in
    raw) backing=("$(base_raw "$DISK")" raw) ;;
    qcow2) backing=("$(base_qcow2 "$DISK")" qcow2) ;;
esac
hold_memory
read_into_cache "${backing[0]:-}"

profile_one() {
    local impl=$1 img=$RUN/disk.qcow2
    rm -f "$img"
    if [[ $impl == limit ]]; then
        img=$(bytes "$DISK")
    else
        make_overlay "$img" "$DISK" "$CLUSTER" "$EXTL2" "${backing[@]}"
    fi
    sync
    serve "$impl" "$img" || die "$impl: $SERVE_ERR"
    perf record -q -g -p "$SERVE_PID" -o "$RUN/$impl.perf" -- sleep "$((RUNTIME + 1))" >/dev/null 2>&1 &
    local perf=$!
    # CPU time and context switches of the server's threads over the same window.
    perf stat -x, -e task-clock,context-switches -p "$SERVE_PID" -o "$RUN/$impl.stat" -- sleep "$((RUNTIME + 1))" >/dev/null 2>&1 &
    local stat=$!
    sleep 0.5
    run_fio "$SERVE_FILE" "$RW" "$BS" "$QD" "$(bytes "$DISK")" || die "$impl: $SERVE_ERR"
    wait "$perf" "$stat"
    unserve || die "$impl: $SERVE_ERR"
    echo "$impl: $FIO_IOPS IOPS, $FIO_MIBS MiB/s, p50 $FIO_P50_US us, p99 $FIO_P99_US us, p99.9 $FIO_P999_US us, max $FIO_MAX_US us"
    per_request "$impl"
    perf report -i "$RUN/$impl.perf" --no-children --sort symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n "$TOP" | sed -E 's/ +$//' >"$RUN/$impl.top"
}

# One request's cost (µs): the wall time per I/O at this queue depth, the server's CPU time per request (its
# threads, user and kernel: perf stat task-clock over the job plus the 1.5 s around it, and perf record's own
# sampling, so an overestimate), fio's CPU time per request (its usr+sys share; fio and the server overlap in
# time on two cores, so the parts do not add up to the wall time), the server's context switches per request,
# and how the server's samples split between the kernel and its own code.
per_request() {
    local impl=$1 v
    v=$(jq -r '.jobs[0] | [.job_runtime, .usr_cpu, .sys_cpu, (.read.total_ios + .write.total_ios)] | map(tostring) | join(" ")' "$RUN/fio.json")
    local runtime_ms usr sys ios
    read -r runtime_ms usr sys ios <<<"$v"
    local clock switches
    clock=$(awk -F, '$3 ~ /^task-clock/ { print $1 }' "$RUN/$impl.stat")
    switches=$(awk -F, '$3 ~ /^context-switches/ { print $1 }' "$RUN/$impl.stat")
    awk -v impl="$impl" -v rt="$runtime_ms" -v usr="$usr" -v sys="$sys" -v ios="$ios" -v clock="$clock" \
        -v sw="$switches" -v qd="$QD" 'BEGIN {
        wall = rt * 1000 / ios * qd; fio = (usr + sys) / 100 * rt * 1000 / ios
        server = clock * 1000 / ios; per = sw / ios
        printf "%s: per request %.1f us wall, server CPU %.1f us, fio CPU %.1f us, server context switches %.2f\n",
            impl, wall, server, fio, per
    }'
    perf report -i "$RUN/$impl.perf" --no-children --sort dso --stdio 2>/dev/null |
        awk -v impl="$impl" '/^ +[0-9.]+%/ { sub(/%/, "", $1); if ($2 ~ /kernel/) k += $1; else { u += $1; if ($1 >= 1) own = own sprintf(" %s %.0f%%,", $2, $1) } }
            END { printf "%s: server samples: kernel %.0f%%, user %.0f%% (%s)\n", impl, k, u, substr(own, 2, length(own) - 2) }'
}

echo "profile: $RW bs=$BS qd=$QD ${RUNTIME}s, backing=$BACKING cluster=$CLUSTER extl2=$EXTL2, disk $DISK"
profile_one ours
[[ $LIMIT == none ]] || profile_one limit
profile_one qemu
echo
printf '%-70s | %s\n' "ours: top symbols (server threads, self time)" "qemu"
paste -d'|' <(cut -c1-70 "$RUN/ours.top" | awk '{ printf "%-70s\n", $0 }') <(cut -c1-70 "$RUN/qemu.top")
