# shellcheck shell=bash
# Helpers for scripts/bench.sh: logging, result rows, serving an image four ways, fio, image preparation.
# Sourced, not run. Globals it relies on are set by bench.sh (RUN, CACHE, TSV, OURS, LIMIT, RUNTIME, FIO_SEED, ...).

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# now_ms: wall clock in milliseconds with three decimals, without forking.
now_ms() { local t=${EPOCHREALTIME/[.,]/}; printf '%d.%03d' "$((t / 1000))" "$((t % 1000))"; }
# nap: sleep 2 ms without forking (sleep(1) costs more than the resolution we want).
exec {NAP_FD}<> <(:)
nap() { read -rt 0.002 -u "$NAP_FD" _ || :; }
# elapsed_ms START END → END-START in ms (awk for the decimals).
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# record WORKLOAD CASE IMPL ROUND METRIC VALUE: one raw result row (the report aggregates rounds).
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }
# note TEXT: a line for the report's notes section (deduplicated there).
note() { printf '%s\n' "$*" >>"$NOTES"; log "note: $*"; }

# bytes SIZE: 64k, 2M, 4G, 1T or a plain number → bytes.
bytes() {
    local n=${1%[kKmMgGtT]} u=${1##*[0-9]}
    case $u in
        k | K) echo $((n << 10)) ;; m | M) echo $((n << 20)) ;; g | G) echo $((n << 30)) ;;
        t | T) echo $((n << 40)) ;; *) echo "$n" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Guest memory. In a VM with free page reporting (virtio-balloon), memory the guest frees goes back
# to the host, and the next page written there costs a host fault, charged to the process writing
# it. Measured here: a 2 MiB-cluster COW job (2 MiB of fresh page cache per write) ran at 260 IOPS
# right after another job's image was deleted, at 700-900 IOPS the next time, whichever server ran
# first; touching 17 GiB took 32 s the first time and 11 s the second. hold_memory switches
# reporting off for the run and touches the free memory once, so both servers write into memory the
# host already backs; release_memory restores the setting. Nothing to do outside such a VM.
# ---------------------------------------------------------------------------------------------
PAGE_REPORTING_ORDER=/sys/module/page_reporting/parameters/page_reporting_order
SAVED_REPORTING_ORDER=''
hold_memory() {
    [[ -w $PAGE_REPORTING_ORDER ]] || return 0
    local saved
    saved=$(<"$PAGE_REPORTING_ORDER") || return 0
    # Already off: another run holds it (or the machine's owner switched it off for a session of runs); touching
    # the free memory again beside that run would only take memory from it.
    if ((saved >= 11)); then
        note "free page reporting (virtio-balloon) already off (page_reporting_order $saved): left as it is"
        return 0
    fi
    # Reporting takes free blocks of this order and above; the buddy allocator has none above 10.
    echo 11 >"$PAGE_REPORTING_ORDER" 2>/dev/null || { note "could not switch free page reporting off"; return 0; }
    SAVED_REPORTING_ORDER=$saved
    # Touch what is free now, leaving 1 GiB; the kernel may still drop some page cache to make room.
    local free_mib dir=$RUN/memtouch
    free_mib=$(awk '/^MemFree:/ { print int($2 / 1024) - 1024 }' /proc/meminfo)
    if ((free_mib > 0)) && mkdir -p "$dir" && mount -t tmpfs -o "size=${free_mib}m" tmpfs "$dir"; then
        local t0
        t0=$(now_ms)
        dd if=/dev/zero of="$dir/touch" bs=1M count="$free_mib" status=none 2>/dev/null
        umount "$dir"
        log "touched $free_mib MiB of free memory in $(elapsed_ms "$t0" "$(now_ms)") ms"
    fi
    rmdir "$dir" 2>/dev/null
    note "free page reporting (virtio-balloon) off during the run, free memory touched once before it (page_reporting_order $saved → 11, restored after): freed memory handed back to the host made the next writer pay for host faults"
}
# read_into_cache FILE…: read the files once, so no first job pays for reading them from disk.
read_into_cache() {
    local f
    for f in "$@"; do
        [[ -f $f ]] && cat "$f" >/dev/null
    done
}
release_memory() {
    [[ -n $SAVED_REPORTING_ORDER ]] && echo "$SAVED_REPORTING_ORDER" >"$PAGE_REPORTING_ORDER"
    SAVED_REPORTING_ORDER=''
}

# ---------------------------------------------------------------------------------------------
# FUSE over io_uring (kernel 6.14+). The module parameter decides what new connections are offered
# (and is read again when the server's INIT reply arrives); ours and the FUSE limit take it when
# offered. fuse_uring Y|N sets it until fuse_uring_restore; fuse_uring_state prints it.
# ---------------------------------------------------------------------------------------------
URING_SWITCH=/sys/module/fuse/parameters/enable_uring
SAVED_URING=''
fuse_uring() {
    [[ -w $URING_SWITCH ]] || return 1
    [[ -n $SAVED_URING ]] || SAVED_URING=$(<"$URING_SWITCH")
    echo "$1" >"$URING_SWITCH"
}
fuse_uring_restore() {
    [[ -n $SAVED_URING ]] && echo "$SAVED_URING" >"$URING_SWITCH"
    SAVED_URING=''
}
fuse_uring_state() {
    if [[ ! -r $URING_SWITCH ]]; then
        echo "/dev/fuse (this kernel has no FUSE over io_uring)"
    elif [[ $(<"$URING_SWITCH") == Y ]]; then
        echo "io_uring when the server takes it (enable_uring=Y)"
    else
        echo "/dev/fuse (enable_uring=N)"
    fi
}
# uring_completions PID: completions posted by the process's io_uring instances (CqTail in fdinfo),
# one per FUSE request answered over a ring; 0 when it has none.
uring_completions() {
    local fd n=0 t
    for fd in /proc/"$1"/fd/*; do
        [[ $(readlink "$fd" 2>/dev/null) == 'anon_inode:[io_uring]' ]] || continue
        t=$(awk '$1 == "CqTail:" { print $2 }' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null)
        n=$((n + ${t:-0}))
    done
    echo "$n"
}

# ---------------------------------------------------------------------------------------------
# Serving. serve IMPL IMAGE sets SERVE_FILE (the fio target), SERVE_PID (the process answering
# FUSE requests; empty for the ceiling) and SERVE_MS (command start → file served). For the FUSE
# limit (our FUSE loop over a null disk, benchmarks/Qcow2Mount.FuseLimit) IMAGE is the disk size.
# unserve stops it and sets UNSERVE_MS (stop command → serving process gone). One at a time.
# ---------------------------------------------------------------------------------------------
SERVE_IMPL='' SERVE_FILE='' SERVE_PID='' SERVE_MNT='' SERVE_MS='' UNSERVE_MS='' SERVE_ERR=''
SERVE_TIMEOUT_S=60

# is_mounted PATH: PATH is a mount point in /proc/mounts (read without forking).
is_mounted() {
    local mp
    while read -r _ mp _; do
        [[ $mp == "$1" ]] && return 0
    done </proc/mounts
    return 1
}

# alive PID: the process exists and is not a zombie.
alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# exit_watch PID: starts a watcher of process PID (a pidfd, through python3) and returns once it watches;
# exit_watched START (an EPOCHREALTIME) then waits for PID to be gone and sets EXIT_MS to START → that moment, in ms
# with two decimals. Exact, where polling /proc with naps between looks is as coarse as the naps (0.5 ms and more,
# against stops of 1.5 ms). exit_watched fails after SERVE_TIMEOUT_S without an answer; exit_unwatch ends a watch.
EXIT_WATCH_FD='' EXIT_MS=''
exit_watch() {
    local line
    coproc EXIT_WATCH {
        exec python3 -c 'import os, select, sys, time
fd = os.pidfd_open(int(sys.argv[1]))
print("watching", flush=True)
select.select([fd], [], [])
us = time.time_ns() // 1000
print(f"{us // 1000000}.{us % 1000000:06d}", flush=True)' "$1" 2>&1
    }
    exec {EXIT_WATCH_FD}<&"${EXIT_WATCH[0]}" # bash drops the coproc's own descriptor when it reaps the watcher
    read -r -t 10 -u "$EXIT_WATCH_FD" line && [[ $line == watching ]] || { log "exit_watch $1: $line"; exit_unwatch; return 1; }
}
exit_watched() {
    local gone rc=0
    EXIT_MS=''
    read -r -t "$SERVE_TIMEOUT_S" -u "$EXIT_WATCH_FD" gone || rc=1
    exit_unwatch
    ((rc == 0)) && EXIT_MS=$(awk -v a="${1/,/.}" -v b="$gone" 'BEGIN { printf "%.2f", (b - a) * 1000 }')
}
exit_unwatch() {
    [[ -n $EXIT_WATCH_FD ]] && exec {EXIT_WATCH_FD}<&-
    EXIT_WATCH_FD=''
    [[ -n ${EXIT_WATCH_PID:-} ]] && { kill "$EXIT_WATCH_PID" 2>/dev/null; wait "$EXIT_WATCH_PID" 2>/dev/null; }
    :
}

# fuse_server_pid MOUNTPOINT: the process whose command line names MOUNTPOINT and that holds
# /dev/fuse open. Finds our server whether it stays in the foreground or re-spawns itself to detach.
fuse_server_pid() {
    local d pid fd args
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        mapfile -d '' -t args <"$d/cmdline" 2>/dev/null || continue
        [[ "${args[*]}" == *"$1"* ]] || continue
        for fd in "$d"/fd/*; do
            if [[ $(readlink "$fd" 2>/dev/null) == /dev/fuse ]]; then
                echo "$pid"
                return 0
            fi
        done
    done
    return 1
}

serve() {
    local impl=$1 image=$2 t0 t1 launcher
    SERVE_IMPL=$impl SERVE_PID='' SERVE_MNT='' SERVE_ERR='' SERVE_MS='' UNSERVE_MS=''
    case $impl in
        ceiling)
            SERVE_FILE=$image
            SERVE_MS=0
            return 0
            ;;
        qemu)
            SERVE_MNT=$RUN/mnt-qemu.raw
            rm -f "$SERVE_MNT" && : >"$SERVE_MNT"
            SERVE_FILE=$SERVE_MNT
            t0=$(now_ms)
            qemu-storage-daemon \
                --blockdev "driver=file,node-name=file0,filename=$image" \
                --blockdev "driver=qcow2,node-name=fmt0,file=file0${QEMU_QCOW2_OPTS:-}" \
                --export "type=fuse,id=exp0,node-name=fmt0,mountpoint=$SERVE_MNT,writable=on" \
                >"$RUN/qemu.log" 2>&1 &
            launcher=$!
            ;;
        limit)
            SERVE_MNT=$RUN/mnt-limit
            mkdir -p "$SERVE_MNT"
            SERVE_FILE=$SERVE_MNT/disk.raw
            t0=$(now_ms)
            "$LIMIT" --size "$image" "$SERVE_MNT" >"$RUN/limit.log" 2>&1 &
            launcher=$!
            ;;
        ours)
            SERVE_MNT=$RUN/mnt-ours
            mkdir -p "$SERVE_MNT"
            local name=${image##*/}
            [[ $name == *.qcow2 ]] && name=${name%.qcow2}.raw || name=$name.raw
            SERVE_FILE=$SERVE_MNT/$name
            t0=$(now_ms)
            "$OURS" "$image" "$SERVE_MNT" >"$RUN/ours.log" 2>&1 &
            launcher=$!
            ;;
        *) die "unknown implementation $impl" ;;
    esac
    ACTIVE_PIDS+=("$launcher") ACTIVE_MNTS+=("$SERVE_MNT")

    # Served = the file answers a stat with the disk's size (qemu's mount point is an empty file
    # until then; ours does not exist until then).
    local deadline=$((${EPOCHREALTIME%[.,]*} + SERVE_TIMEOUT_S)) exited=0
    until [[ -s $SERVE_FILE ]] && is_mounted "$SERVE_MNT"; do
        if ((!exited)) && ! alive "$launcher"; then
            wait "$launcher"
            local rc=$?
            if ((rc != 0)); then
                SERVE_ERR="$impl exited with $rc: $(grep -m1 -v '^\s*$' "$RUN/$impl.log" 2>/dev/null | cut -c1-200)"
                force_stop
                return 1
            fi
            exited=1 # a launcher that detached its server and exited 0: keep waiting for the mount
        fi
        if ((${EPOCHREALTIME%[.,]*} > deadline)); then
            SERVE_ERR="$impl did not serve $SERVE_FILE within ${SERVE_TIMEOUT_S}s"
            force_stop
            return 1
        fi
        nap
    done
    t1=$(now_ms)
    SERVE_MS=$(elapsed_ms "$t0" "$t1")
    if alive "$launcher" && [[ $impl == qemu || $impl == limit ]]; then
        SERVE_PID=$launcher
    else
        SERVE_PID=$(fuse_server_pid "$SERVE_MNT") || SERVE_PID=''
        [[ -n $SERVE_PID ]] || SERVE_PID=$launcher
    fi
    ACTIVE_PIDS+=("$SERVE_PID")
    return 0
}

unserve() {
    local t0 t1 rc=0
    UNSERVE_MS=''
    [[ $SERVE_IMPL == ceiling ]] && { UNSERVE_MS=0; return 0; }
    t0=$(now_ms)
    case $SERVE_IMPL in
        qemu | limit) kill -TERM "$SERVE_PID" 2>/dev/null ;;
        ours) "$OURS" unmount "$SERVE_MNT" >>"$RUN/ours.log" 2>&1 || rc=$? ;;
    esac
    local deadline=$((${EPOCHREALTIME%[.,]*} + SERVE_TIMEOUT_S))
    while alive "$SERVE_PID"; do
        if ((rc != 0 || ${EPOCHREALTIME%[.,]*} > deadline)); then
            SERVE_ERR="$SERVE_IMPL did not stop cleanly (unmount rc=$rc)"
            force_stop
            return 1
        fi
        nap
    done
    t1=$(now_ms)
    wait "$SERVE_PID" 2>/dev/null
    UNSERVE_MS=$(elapsed_ms "$t0" "$t1")
    if is_mounted "$SERVE_MNT"; then
        SERVE_ERR="$SERVE_IMPL left $SERVE_MNT mounted after its server exited"
        force_stop
        return 1
    fi
    # Wait for a detached launcher too, so nothing of this run lingers.
    local p
    for p in "${ACTIVE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ACTIVE_PIDS=() ACTIVE_MNTS=()
    return 0
}

# force_stop: end every process and mount this script started (by pid and path only).
force_stop() {
    local p m
    for p in "${ACTIVE_PIDS[@]}"; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
    for _ in {1..50}; do
        local any=0
        for p in "${ACTIVE_PIDS[@]}"; do alive "$p" && any=1; done
        ((any)) || break
        sleep 0.1
    done
    for p in "${ACTIVE_PIDS[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    for m in "${ACTIVE_MNTS[@]}"; do
        [[ -n $m ]] && is_mounted "$m" && { fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
    done
    for p in "${ACTIVE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ACTIVE_PIDS=() ACTIVE_MNTS=()
}
ACTIVE_PIDS=() ACTIVE_MNTS=()

# sweep_mounts DIR: the last resort on exit: stop the server of every mount left under DIR (one
# that detached before we learnt its pid) and detach the mount.
sweep_mounts() {
    local mp pid
    while read -r _ mp _; do
        [[ $mp == "$1"/* ]] || continue
        pid=$(fuse_server_pid "$mp") && kill -TERM "$pid" 2>/dev/null
        umount -l "$mp" 2>/dev/null
    done < <(cat /proc/mounts)
}

# vm_kib PID FIELD: a /proc/PID/status field (VmHWM, VmRSS) in KiB.
vm_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# fio. run_fio FILE RW BS QD SIZE [extra fio args…] → FIO_IOPS FIO_MIBS FIO_P50_US FIO_P99_US
# FIO_P999_US FIO_P9999_US FIO_MAX_US (completion latency: percentiles and the slowest request of the job).
# ---------------------------------------------------------------------------------------------
run_fio() {
    local file=$1 rw=$2 bs=$3 qd=$4 size=$5 dir
    shift 5
    local out=$RUN/fio.json
    FIO_IOPS='' FIO_MIBS='' FIO_P50_US='' FIO_P99_US='' FIO_P999_US='' FIO_P9999_US='' FIO_MAX_US=''
    case $rw in *read*) dir='read' ;; *) dir='write' ;; esac
    # Start every job with no dirty pages anywhere: the previous job's (or image copy's) writeback
    # would otherwise land inside this one and decide the pair's ratio (measured: ±2x on w1).
    sync
    if ! timeout --kill-after=10 $((RUNTIME + 120)) fio --name=bench --filename="$file" \
        --ioengine=libaio --direct=1 --time_based --runtime="$RUNTIME" --size="$size" \
        --rw="$rw" --bs="$bs" --iodepth="$qd" --randrepeat=0 --randseed="$FIO_SEED" \
        --fallocate=none --invalidate=0 "$@" --output-format=json --output="$out" >"$RUN/fio.err" 2>&1; then
        SERVE_ERR="fio $rw failed: $(grep -m1 -v '^\s*$' "$RUN/fio.err" "$out" 2>/dev/null | cut -c1-200)"
        return 1
    fi
    local v
    v=$(jq -r --arg d "$dir" '.jobs[0] as $j | $j[$d] | [.iops, .bw_bytes / 1048576,
            (.clat_ns.percentile["50.000000"] // 0) / 1000, (.clat_ns.percentile["99.000000"] // 0) / 1000,
            (.clat_ns.percentile["99.900000"] // 0) / 1000, (.clat_ns.percentile["99.990000"] // 0) / 1000,
            (.clat_ns.max // 0) / 1000, .total_ios, $j.error] | map(tostring) | join(" ")' "$out") || return 1
    local total_ios err
    read -r FIO_IOPS FIO_MIBS FIO_P50_US FIO_P99_US FIO_P999_US FIO_P9999_US FIO_MAX_US total_ios err <<<"$v"
    if [[ $err != 0 || $total_ios == 0 ]]; then
        SERVE_ERR="fio $rw: error $err after $total_ios I/Os"
        return 1
    fi
    printf -v FIO_IOPS '%.0f' "$FIO_IOPS"
    printf -v FIO_MIBS '%.1f' "$FIO_MIBS"
    printf -v FIO_P50_US '%.1f' "$FIO_P50_US"
    printf -v FIO_P99_US '%.1f' "$FIO_P99_US"
    printf -v FIO_P999_US '%.1f' "$FIO_P999_US"
    printf -v FIO_P9999_US '%.1f' "$FIO_P9999_US"
    printf -v FIO_MAX_US '%.1f' "$FIO_MAX_US"
}

# record_ratio W ROUND NUM DEN: for every case and metric of workload W that both implementations
# have in ROUND, a row "W CASE NUM/DEN ROUND METRIC NUM÷DEN" (the report shows their medians).
record_ratio() {
    awk -F'\t' -v w="$1" -v r="$2" -v a="$3" -v b="$4" 'BEGIN { OFS = "\t" }
        $1 == w && $4 == r && ($3 == a || $3 == b) {
            if (!(($2, $5) in seen)) { seen[$2, $5] = 1; keys[++n] = $2 SUBSEP $5 }
            v[$3, $2, $5] = $6
        }
        END {
            for (i = 1; i <= n; i++) {
                split(keys[i], k, SUBSEP)
                if (((a, k[1], k[2]) in v) && ((b, k[1], k[2]) in v) && v[b, k[1], k[2]] + 0 != 0)
                    print w, k[1], a "/" b, r, k[2], sprintf("%.3f", v[a, k[1], k[2]] / v[b, k[1], k[2]])
            }
        }' "$TSV" >"$TSV.ratios"
    cat "$TSV.ratios" >>"$TSV"
    rm -f "$TSV.ratios"
}

# slow_windows LOG THRESHOLD_NS: how many 100 ms stretches of a job had a request slower than THRESHOLD_NS,
# from fio's per-window maxima (--write_lat_log=LOG --log_avg_msec=100 --log_max_value=1). A job of several
# threads writes one log each; a stretch counts once however many threads met it. Empty without a log.
slow_windows() {
    local logs=("$1"_clat.*.log)
    [[ -s ${logs[0]} ]] || return 0
    awk -F', *' -v t="$2" '$2 > t { slow[int(($1 + 50) / 100)] = 1 } END { print length(slow) }' "${logs[@]}"
}

# record_fio W CASE IMPL ROUND PRIMARY: the numbers of the last run_fio; PRIMARY (iops or MiBps)
# first, then the completion latency: p50, p99, p99.9 and the slowest request (issue 18 target 3).
record_fio() {
    if [[ $5 == MiBps ]]; then
        record "$1" "$2" "$3" "$4" MiBps "$FIO_MIBS"
    else
        record "$1" "$2" "$3" "$4" iops "$FIO_IOPS"
    fi
    record "$1" "$2" "$3" "$4" p50_us "$FIO_P50_US"
    record "$1" "$2" "$3" "$4" p99_us "$FIO_P99_US"
    record "$1" "$2" "$3" "$4" p999_us "$FIO_P999_US"
    record "$1" "$2" "$3" "$4" max_us "$FIO_MAX_US"
}

# ---------------------------------------------------------------------------------------------
# Images. Base images are made once per size and kept in $CACHE (random data, fully written);
# every run works on a fresh copy in $RUN.
# ---------------------------------------------------------------------------------------------

# base_raw SIZE / base_qcow2 SIZE: print the path, making the file on first use.
base_raw() {
    local f=$CACHE/base-$1.raw
    if [[ ! -f $f ]]; then
        log "making $f (random data, fully written)"
        fio --name=fill --filename="$f.tmp" --rw=write --bs=1M --size="$(bytes "$1")" --ioengine=psync \
            --end_fsync=1 --refill_buffers=1 >"$RUN/fill.log" 2>&1 || die "could not write $f: $(tail -3 "$RUN/fill.log")"
        mv "$f.tmp" "$f"
    fi
    echo "$f"
}
base_qcow2() {
    local f=$CACHE/base-$1.qcow2 raw
    raw=$(base_raw "$1") || exit 1
    if [[ ! -f $f ]]; then
        log "making $f (fully allocated, 64 KiB clusters)"
        qemu-img convert -f raw -O qcow2 "$raw" "$f.tmp" || die "could not convert $raw"
        mv "$f.tmp" "$f"
    fi
    echo "$f"
}

# fresh_copy SRC NAME: a new sparse copy $RUN/NAME of SRC, synced so the copy's dirty pages do
# not land inside the next measurement.
fresh_copy() {
    rm -f "$RUN/$2"
    cp --sparse=always "$1" "$RUN/$2" || die "cp $1 failed"
    sync "$RUN/$2"
    echo "$RUN/$2"
}

# make_overlay OUT SIZE CLUSTER EXTL2 [BACKING BACKING_FMT]: an empty qcow2.
make_overlay() {
    local o="cluster_size=$(bytes "$3"),extended_l2=$4"
    [[ -n ${5:-} ]] && o+=",backing_file=$5,backing_fmt=$6"
    qemu-img create -q -f qcow2 -o "$o" "$1" "$(bytes "$2")" || die "qemu-img create $1 ($o) failed"
}
