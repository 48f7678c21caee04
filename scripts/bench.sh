#!/usr/bin/env bash
# Benchmark: qcow2mount vs QEMU's FUSE export (qemu-storage-daemon) vs a plain raw file (the ceiling)
# vs our FUSE loop over a null disk (the FUSE limit), and the FUSE transports (/dev/fuse, io_uring).
# Issues 6 and 18. Writes benchmarks/results/<date>-<host>[-smoke|-wN…].{md,tsv,png} and prints the table.
set -uo pipefail

usage() {
    cat <<'EOF'
usage: scripts/bench.sh [--smoke] [--rounds N] [--runtime S] [--only LIST] [--ours PATH]
                        [--limit PATH] [--fuse-uring Y|N] [--disk SIZE] [--workdir DIR] [--no-chart]
                        [--clusters LIST] [--backings LIST] [--qds LIST] [--extl2 LIST]
                        [--tails S]

  --smoke        one round, 1 s per job, small images, workloads 1 and 3 only (< 2 minutes)
  --rounds N     rounds of paired runs (default 3; smoke 1)
  --runtime S    seconds per fio job (default 10; smoke 1)
  --only LIST    comma list of workloads, by number or name:
                   1 cow      4 KiB random writes into an overlay over a fully written backing file
                   1e engine  the same allocations straight into the engines, no FUSE: qcow2mount bench
                              vs qemu-img bench (part of 1)
                   2 fresh    4 KiB random writes into an overlay without backing file
                   3 alloc    4 KiB random read/write on a fully allocated image
                   4 seq      1 MiB sequential read/write
                   5 size     image size and metadata per allocated subcluster (after 1 and 2; implies 1)
                   6 mount    mount and unmount latency
                   7 rss      peak RSS serving a sparse 1 TiB image under 4 KiB random writes
                   8 convert  qcow2mount convert vs qemu-img convert
                   9 uring    FUSE transports: /dev/fuse vs io_uring (kernel 6.14+), FUSE limit and ours,
                              workloads 3 and 4's jobs (switches enable_uring per run)
                  10 flat     mount, RSS, first read and unmount from 1 GiB to 64 TiB (sparse), ours with
                              1/16/100 images in one mount, check and convert of 64 MiB of data at every size
                  11 compress convert -c -O qcow2 (zlib, zstd) of half random, a quarter text, a quarter zeros
                  12 durable  4 KiB random writes with an fsync after each (fio fsync=1, QD1; one writer,
                              four at once, one beside a random reader) into an overlay over a fully written
                              raw file, with the FUSE limit; and the flush of 1 GiB of dirty L2 tables
                              (8 TiB image, 1 GiB L2 cache) at the writer's close, then unmount
                  13 tails    one minute of 4 KiB random writes at QD16 into a fresh 128k extended-L2 overlay
                              over a fully written raw file, with the FUSE limit and the same writes into
                              a plain file at ours' rate (no FUSE): the slowest requests
  --ours PATH    the qcow2mount binary (default: $QCOW2MOUNT, artifacts/publish/qcow2mount,
                 then the Release/Debug build output); "none" measures QEMU and the ceiling only
  --limit PATH   the FUSE limit, benchmarks/Qcow2Mount.FuseLimit (default: built with dotnet
                 into its bin/Release); "none" leaves its column out
  --fuse-uring Y|N  the kernel's FUSE-over-io_uring switch (enable_uring) for the run, restored
                 after it (default: as it is; ours and the FUSE limit use io_uring when it is Y)
  --disk SIZE    virtual disk size (default 4G; smoke 256M)
  --workdir DIR  where the scratch file system (a sparse 64 GiB ext4 image, kept between runs)
                 lives (default benchmarks/work; a full run writes about 25 GiB into it)
  --no-chart     skip the PNG (the chart needs dotnet)
  --clusters L   comma list of cluster sizes for workloads 1 and 2 (default 64k,128k,512k,2M)
  --backings L   comma list of backing formats for workload 1 (default raw,qcow2)
  --qds L        comma list of queue depths for workloads 1 and 2 (default 1,16)
  --extl2 L      comma list of extended_l2 settings for workloads 1, 1e and 2 (default on,off)
  --tails S      seconds of workload 13's job (default 60, the length issue 18 target 3 names; smoke: --runtime)

Needs root (FUSE mounts), fio, jq, qemu-img, qemu-storage-daemon, fusermount3; installs missing
ones with apt-get. Numbers are printed, never asserted: exits 0 even when ours is missing.
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/bench/lib.sh"
# shellcheck source=bench/workloads.sh
source "$HERE/bench/workloads.sh"

SMOKE=0 ROUNDS='' RUNTIME='' ONLY='' OURS_ARG='' LIMIT_ARG='' FUSE_URING='' DISK='' WORK='' CHART=1 CLUSTERS_ARG='' BACKINGS_ARG='' QDS_ARG='' EXTL2_ARG='' TAILS=''
while (($#)); do
    case $1 in
        --smoke) SMOKE=1 ;;
        --rounds) ROUNDS=${2:?}; shift ;;
        --runtime) RUNTIME=${2:?}; shift ;;
        --only) ONLY=${2:?}; shift ;;
        --ours) OURS_ARG=${2:?}; shift ;;
        --limit) LIMIT_ARG=${2:?}; shift ;;
        --fuse-uring) FUSE_URING=${2:?}; shift ;;
        --disk) DISK=${2:?}; shift ;;
        --workdir) WORK=${2:?}; shift ;;
        --no-chart) CHART=0 ;;
        --clusters) CLUSTERS_ARG=${2:?}; shift ;;
        --backings) BACKINGS_ARG=${2:?}; shift ;;
        --qds) QDS_ARG=${2:?}; shift ;;
        --extl2) EXTL2_ARG=${2:?}; shift ;;
        --tails) TAILS=${2:?}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

FIO_SEED=20261125
ALL_WORKLOADS=1,2,3,4,5,6,7,8,9,10,11,12,13
# A full run: every workload and every case. Only such a run names its results by date alone and writes the
# README's summary.
FULL_RUN=0
[[ $SMOKE == 0 && -z $ONLY && -z $CLUSTERS_ARG$BACKINGS_ARG$QDS_ARG$EXTL2_ARG ]] && FULL_RUN=1
if ((SMOKE)); then
    : "${ROUNDS:=1}" "${RUNTIME:=1}" "${DISK:=256M}" "${ONLY:=1,3}" "${TAILS:=$RUNTIME}"
    BACKINGS=(qcow2) CLUSTERS=(64k 2M) QDS=(16)
else
    : "${ROUNDS:=3}" "${RUNTIME:=10}" "${DISK:=4G}" "${ONLY:=$ALL_WORKLOADS}" "${TAILS:=60}"
    BACKINGS=(raw qcow2) CLUSTERS=(64k 128k 512k 2M) QDS=(1 16)
fi
[[ -n $CLUSTERS_ARG ]] && IFS=, read -ra CLUSTERS <<<"$CLUSTERS_ARG"
[[ -n $BACKINGS_ARG ]] && IFS=, read -ra BACKINGS <<<"$BACKINGS_ARG"
[[ -n $QDS_ARG ]] && IFS=, read -ra QDS <<<"$QDS_ARG"
EXTL2S=(on off)
[[ -n $EXTL2_ARG ]] && IFS=, read -ra EXTL2S <<<"$EXTL2_ARG"
DISK_BYTES=$(bytes "$DISK")
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $RUNTIME =~ ^[1-9][0-9]*$ && $TAILS =~ ^[1-9][0-9]*$ && $DISK_BYTES =~ ^[1-9][0-9]*$ && $FUSE_URING =~ ^[YN]?$ ]] || { usage >&2; exit 2; }

# Selected workloads as w1…w9; 5 is computed from the images of 1 (and 2), so it implies 1.
SELECTED=()
IFS=, read -ra items <<<"$ONLY"
for it in "${items[@]}"; do
    case $it in
        1 | cow) SELECTED+=(w1) ;; 1e | engine) SELECTED+=(w1e) ;; 2 | fresh) SELECTED+=(w2) ;; 3 | alloc) SELECTED+=(w3) ;;
        4 | seq) SELECTED+=(w4) ;; 5 | size) SELECTED+=(w1 w5) ;; 6 | mount) SELECTED+=(w6) ;;
        7 | rss) SELECTED+=(w7) ;; 8 | convert) SELECTED+=(w8) ;; 9 | uring) SELECTED+=(w9) ;;
        10 | flat) SELECTED+=(w10) ;; 11 | compress) SELECTED+=(w11) ;; 12 | durable) SELECTED+=(w12) ;;
        13 | tails) SELECTED+=(w13) ;;
        *) die "unknown workload '$it' (see --help)" ;;
    esac
done
want() { [[ " ${SELECTED[*]} " == *" w$1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Tools. CI machines start fresh: install what is missing. Which package provides which tool is
# .ci/packages.tsv's to say (build.ps1 deps and the tests read the same list).
# ---------------------------------------------------------------------------------------------
PACKAGE_MAP=$ROOT/.ci/packages.tsv
# package_of TOOL: the Debian package that provides TOOL (a command or an absolute path) in the map.
package_of() {
    awk -F'\t' -v tool="$1" '$1 == tool { print $2; found = 1; exit } END { exit !found }' "$PACKAGE_MAP" ||
        die "$1 is not in $PACKAGE_MAP"
}
ensure_tools() {
    local missing=() t
    for t in fio jq python3 qemu-img qemu-storage-daemon fusermount3 mkfs.ext4 losetup; do
        command -v "$t" >/dev/null || missing+=("$(package_of "$t")")
    done
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}" || die "missing ${missing[*]}"
}
# apt_install PKG…: install Debian packages (needs root and apt-get).
apt_install() {
    log "installing $*"
    command -v apt-get >/dev/null || return 1
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >&2
}
# have_packages PKG…: all installed (dpkg); true where there is no dpkg to ask.
have_packages() {
    command -v dpkg-query >/dev/null || return 0
    local p
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *" installed" ]] || return 1
    done
}
((EUID == 0)) || die "needs root (FUSE mounts, /proc of the servers)"
ensure_tools
[[ -e /dev/fuse ]] || die "/dev/fuse is missing"

# ---------------------------------------------------------------------------------------------
# Places. The images live on a scratch ext4 of our own (a sparse file on a loop device, kept in
# $WORK between runs): the host's root file system may be mounted with 'discard', and there
# deleting one written overlay (tens of thousands of extents) took 45 s. $CACHE keeps the base
# images; $RUN is this invocation's scratch, removed on exit.
# ---------------------------------------------------------------------------------------------
: "${WORK:=$ROOT/benchmarks/work}"
mkdir -p "$WORK" || die "cannot create $WORK"
WORK=$(cd "$WORK" && pwd)
[[ $WORK != *[[:space:]]* ]] || die "the work directory must not contain spaces: $WORK"
SCRATCH_IMG=$WORK/scratch.ext4 SCRATCH=$WORK/scratch SCRATCH_SIZE=64G LOOPDEV=''
RUN=''
cleanup() {
    force_stop
    release_memory
    fuse_uring_restore
    if [[ -n $RUN ]]; then sweep_mounts "$RUN"; rm -rf "$RUN"; fi
    if [[ -n $LOOPDEV ]]; then
        # Give the deleted images' blocks back to the host: the scratch image is sparse and a full
        # run writes ~25 GiB into it (it had grown to 61 GiB without this).
        fstrim "$SCRATCH" 2>/dev/null
        umount "$SCRATCH" 2>/dev/null || umount -l "$SCRATCH"
        losetup -d "$LOOPDEV" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$SCRATCH"
if ! is_mounted "$SCRATCH"; then
    if [[ ! -f $SCRATCH_IMG ]]; then
        log "making the scratch file system $SCRATCH_IMG ($SCRATCH_SIZE, sparse)"
        truncate -s "$SCRATCH_SIZE" "$SCRATCH_IMG.tmp" &&
            mkfs.ext4 -q -F -L qcow2bench -i 1048576 -J size=64 \
                -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$SCRATCH_IMG.tmp" &&
            mv "$SCRATCH_IMG.tmp" "$SCRATCH_IMG" || die "could not make $SCRATCH_IMG"
    fi
    if LOOPDEV=$(losetup --direct-io=on -f --show "$SCRATCH_IMG" 2>"$WORK/losetup.err") &&
        mount -o noatime "$LOOPDEV" "$SCRATCH" 2>>"$WORK/losetup.err"; then
        SCRATCH_NOTE=''
    else
        # No loop devices here (a container): work on the host file system, slower to clean up.
        [[ -n $LOOPDEV ]] && losetup -d "$LOOPDEV"
        LOOPDEV=''
        SCRATCH_NOTE="no loop device ($(head -c 120 "$WORK/losetup.err")): images on the host file system"
    fi
    rm -rf "$SCRATCH"/run.* # left by a run that was killed; nobody else had the file system mounted
fi
CACHE=$SCRATCH/cache
mkdir -p "$CACHE"
RUN=$(mktemp -d "$SCRATCH/run.XXXXXX")
NOTES=$RUN/notes
: >"$NOTES"
[[ -n ${SCRATCH_NOTE:-} ]] && note "$SCRATCH_NOTE"

HOST=$(hostname -s 2>/dev/null || hostname)
STEM=$(date +%Y-%m-%d)-$HOST
if ((SMOKE)); then STEM+=-smoke; elif [[ $ONLY != "$ALL_WORKLOADS" ]]; then STEM+=-w${ONLY//,/-}; fi
RESULTS=$ROOT/benchmarks/results
mkdir -p "$RESULTS"
TSV=$RESULTS/$STEM.tsv MD=$RESULTS/$STEM.md PNG=$RESULTS/$STEM.png
printf 'workload\tcase\timpl\tround\tmetric\tvalue\n' >"$TSV"

# ---------------------------------------------------------------------------------------------
# Ours: the given binary, or the published one, or a build output; probed with a real mount.
# ---------------------------------------------------------------------------------------------
OURS=''
OURS_MOUNT_BIN=''
find_ours() {
    local c
    if [[ -n $OURS_ARG ]]; then
        [[ $OURS_ARG == none ]] && return 1
        echo "$OURS_ARG"
        return 0
    fi
    for c in "${QCOW2MOUNT:-}" "$ROOT/artifacts/publish/qcow2mount" \
        "$ROOT"/src/Qcow2Mount.Cli/bin/Release/net*/qcow2mount "$ROOT"/src/Qcow2Mount.Cli/bin/Debug/net*/qcow2mount; do
        [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
    done
    return 1
}
if candidate=$(find_ours); then
    if [[ ! -x $candidate ]]; then
        note "ours: $candidate is not an executable file; ours is n/a"
    else
        OURS=$candidate
        probe=$RUN/probe.qcow2
        make_overlay "$probe" 64M 64k off
        if serve ours "$probe" && unserve; then
            log "ours: $OURS (probe mount ok: ${SERVE_MS} ms)"
        else
            note "ours: $OURS could not mount a 64 MiB qcow2 ($SERVE_ERR); ours is n/a"
            OURS=''
        fi
        rm -f "$probe"
    fi
else
    note "ours: no qcow2mount binary found (build it, or pass --ours PATH); ours is n/a"
fi
# The FUSE limit: benchmarks/Qcow2Mount.FuseLimit (our FUSE loop over a null disk), for workloads 1, 3 and 9.
LIMIT=''
find_limit() {
    local out=$ROOT/benchmarks/Qcow2Mount.FuseLimit/bin/Release/net10.0/Qcow2Mount.FuseLimit
    if [[ -n $LIMIT_ARG ]]; then
        [[ $LIMIT_ARG == none ]] && return 1
        echo "$LIMIT_ARG"
        return 0
    fi
    if command -v dotnet >/dev/null; then
        log "building the FUSE limit (benchmarks/Qcow2Mount.FuseLimit)"
        dotnet build -c Release --nologo -v quiet "$ROOT/benchmarks/Qcow2Mount.FuseLimit" >"$RUN/limit-build.log" 2>&1 ||
            { note "the FUSE limit did not build: $(grep -m1 -E 'error|rror' "$RUN/limit-build.log" | cut -c1-200); its column is n/a"; return 1; }
    fi
    [[ -x $out ]] || { note "the FUSE limit is not built and dotnet is missing; its column is n/a"; return 1; }
    echo "$out"
}
if (want 1 || want 3 || want 9 || want 12 || want 13) && candidate=$(find_limit); then
    LIMIT=$candidate
    if serve limit 64M && unserve; then
        log "limit: $LIMIT (probe mount ok: ${SERVE_MS} ms)"
    else
        note "limit: $LIMIT could not mount ($SERVE_ERR); the FUSE limit is n/a"
        LIMIT=''
    fi
fi
if [[ -n $FUSE_URING ]] && ! fuse_uring "$FUSE_URING"; then
    note "--fuse-uring $FUSE_URING: this kernel has no FUSE over io_uring ($URING_SWITCH); the transport is /dev/fuse"
fi
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# Mount latency uses the published NativeAOT binary when there is one.
if [[ -n $OURS && -x $ROOT/artifacts/publish/qcow2mount ]]; then
    OURS_MOUNT_BIN=$ROOT/artifacts/publish/qcow2mount
fi

# ---------------------------------------------------------------------------------------------
# Run.
# ---------------------------------------------------------------------------------------------
START=$(date +%s)
log "bench: $([[ $SMOKE == 1 ]] && echo smoke || echo full) run of ${SELECTED[*]}: $ROUNDS round(s), ${RUNTIME}s per job, disk $DISK, ours: ${OURS:-n/a}"
# Base images first, in this shell, so a failure stops here and not inside a workload.
if want 1 || want 1e || want 3 || want 4 || want 6 || want 8; then
    base_qcow2 "$DISK" >/dev/null
fi
((SMOKE)) || hold_memory
read_into_cache "$CACHE/base-$DISK.raw" "$CACHE/base-$DISK.qcow2"
for w in w1 w1e w2 w3 w4 w6 w7 w8 w9 w10 w11 w12 w13; do
    if want "${w#w}"; then
        log "== $w"
        t=$(date +%s)
        "$w"
        log "== $w took $(($(date +%s) - t)) s"
    fi
done
ELAPSED=$(($(date +%s) - START))

# ---------------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------------
env_table() {
    local cpu qemu_v fio_v ours_v git_v
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    qemu_v=$(qemu-storage-daemon --version | head -1)
    fio_v=$(fio --version)
    git_v=$(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null | cut -c1-80)
    ours_v=${OURS:-n/a}
    if [[ -n $OURS ]]; then
        [[ -f $(dirname "$OURS")/qcow2mount.dll ]] && ours_v+=" (framework-dependent, JIT)"
    fi
    [[ -n $OURS_MOUNT_BIN && $OURS_MOUNT_BIN != "$OURS" ]] && ours_v+=" (mount latency: $OURS_MOUNT_BIN)"
    cat <<EOF
| | |
|---|---|
| date | $(date '+%Y-%m-%d %H:%M %Z') |
| host | $HOST, $(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) |
| kernel | $(uname -sr) |
| fio | $fio_v, libaio, direct=1, randseed=$FIO_SEED |
| QEMU | $qemu_v (FUSE export, default cache mode) |
| libfuse | $(fusermount3 --version 2>&1 | awk '{ print $NF }') |
| FUSE transport | $(fuse_uring_state)$(want 9 && echo "; workload 9 switches it per run") |
| FUSE limit | ${LIMIT:-n/a} |
| file system | $(if is_mounted "$SCRATCH"; then echo "images on ext4 on a loop device (direct-io) over "; fi)$(df -T "$WORK" | awk 'NR == 2 { print $2 " (" $1 ")" }') |
| ours | $ours_v |
| commit | $git_v |
| mode | $([[ $SMOKE == 1 ]] && echo smoke || echo full): workloads ${SELECTED[*]}, $ROUNDS round(s), ${RUNTIME} s per job$(want 13 && echo " (workload 13: $TAILS s)"), disk $DISK, took ${ELAPSED} s |
| load (1/5/15 min) | at start $LOAD_AT_START, at end $(cut -d' ' -f1-3 /proc/loadavg) (2 cores: above 1 the numbers were taken under load) |
EOF
}

{
    echo "# qcow2mount benchmark — $STEM"
    echo
    env_table
    echo
    echo "Medians over rounds; **ours/qemu** is the median of the per-round ratios (runs paired in time)."
    echo "The ceiling is the same fio job on a plain raw file on the same file system (no FUSE)."
    echo "QEMU and ours both go through the host page cache for the image file; the ceiling uses"
    echo "O_DIRECT on the host file, so for reads it is not a strict upper bound. The FUSE limit is"
    echo "our own FUSE loop answering from a null disk (reads zeros, drops writes): the kernel's FUSE"
    echo "round trip plus our protocol code; **ours/limit** is the median of the per-round ratios."
    echo
    awk -F'\t' -v ours="${OURS:+yes}" -f "$HERE/bench/stats.awk" -f "$HERE/bench/report.awk" "$TSV"
    if [[ -s $NOTES ]]; then
        echo "## Notes"
        echo
        awk '!seen[$0]++ { print "- " $0 }' "$NOTES"
        echo
    fi
    echo "Raw numbers (every round): \`$(basename "$TSV")\`."
} >"$MD"

if ((CHART)) && { want 1 || want 10; }; then
    if command -v dotnet >/dev/null; then
        # SkiaSharp (under ScottPlot) finds its fonts through fontconfig's files.
        chart_packages=("$(package_of /usr/lib/x86_64-linux-gnu/libfontconfig.so.1)" "$(package_of /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)")
        have_packages "${chart_packages[@]}" || apt_install "${chart_packages[@]}" ||
            log "chart: could not install ${chart_packages[*]}; text may be missing"
        log "chart: $PNG"
        dotnet run -c Release --project "$ROOT/benchmarks/Qcow2Mount.Bench.Report" -- "$TSV" "$PNG" >"$RUN/chart.log" 2>&1 ||
            { log "chart failed (see below); the table is complete without it"; tail -20 "$RUN/chart.log" >&2; }
        [[ -f $PNG ]] && printf '\n![IOPS per cluster size](%s)\n' "$(basename "$PNG")" >>"$MD"
        [[ -f ${PNG%.png}-flat.png ]] && printf '\n![Workload 10 against the virtual size](%s)\n' "$(basename "${PNG%.png}-flat.png")" >>"$MD"
    else
        log "chart skipped: dotnet is not installed"
    fi
fi

cat "$MD"
log "bench: wrote $MD"
if ((FULL_RUN)); then
    "$HERE/bench/readme_summary.sh" "$TSV" "$ROOT/README.md" && log "bench: README.md's summary is this run's"
fi
exit 0
