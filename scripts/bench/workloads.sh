# shellcheck shell=bash
# The nine workloads of scripts/bench.sh (issues 6 and 18). Sourced after lib.sh.
# Every run serves a fresh copy of its image; within a round the implementations run back to back
# (ours and qemu, in alternating order, the FUSE limit next to ours, then the ceiling) so the paired
# ratios ours/qemu and ours/limit compare neighbours in time.

# impls ROUND [with-ceiling] [with-limit]: the implementations that take part (ours and the limit only
# when they mounted in the probe), ours first in odd rounds and QEMU first in even ones: the first of
# a pair inherits the state the previous job left (dirty pages, freed memory), so neither always gets it.
impls() {
    local list=() round=$1 ceiling=0 limit=0 a
    shift
    for a; do
        [[ $a == with-ceiling ]] && ceiling=1
        [[ $a == with-limit && -n $LIMIT ]] && limit=1
    done
    if ((round % 2)); then
        [[ -n $OURS ]] && list+=(ours)
        ((limit)) && list+=(limit)
        list+=(qemu)
    else
        list+=(qemu)
        ((limit)) && list+=(limit)
        [[ -n $OURS ]] && list+=(ours)
    fi
    ((ceiling)) && list+=(ceiling)
    echo "${list[@]}"
}

# serve_and_run W IMPL ROUND IMAGE SIZE JOB…: serve IMAGE with IMPL, run each fio JOB
# ("case|rw|bs|qd|primary"), stop. Records fio numbers; failures become notes.
serve_and_run() {
    local w=$1 impl=$2 round=$3 image=$4 size=$5 job case rw bs qd primary
    shift 5
    if ! serve "$impl" "$image"; then
        note "$w $impl: $SERVE_ERR"
        return 1
    fi
    for job in "$@"; do
        IFS='|' read -r case rw bs qd primary <<<"$job"
        if run_fio "$SERVE_FILE" "$rw" "$bs" "$qd" "$size"; then
            record_fio "$w" "$case" "$impl" "$round" "$primary"
            log "  [$w r$round] $case  $impl: $FIO_IOPS IOPS, $FIO_MIBS MiB/s, p99 $FIO_P99_US us, p99.9 $FIO_P999_US us, max $FIO_MAX_US us"
        else
            note "$w $impl $case: $SERVE_ERR"
        fi
    done
    unserve || note "$w $impl: $SERVE_ERR"
    return 0
}

# image_stats CASE IMPL ROUND IMAGE CLUSTER EXTL2: workload 5, the size and metadata cost of a
# qcow2 after a write workload (read while nothing serves it).
image_stats() {
    local case=$1 impl=$2 round=$3 img=$4 cluster extl2=$6 check map_bytes
    cluster=$(bytes "$5")
    check=$(qemu-img check --output=json -f qcow2 "$img" 2>/dev/null)
    [[ -n $check ]] || { note "w5 $impl $case: qemu-img check printed nothing"; return 1; }
    local clusters end problems
    read -r clusters end problems < <(jq -r '[."allocated-clusters", ."image-end-offset",
        ((.corruptions // 0) + (.leaks // 0) + (."check-errors" // 0))] | map(tostring) | join(" ")' <<<"$check")
    map_bytes=$(qemu-img map --output=json -f qcow2 "$img" 2>/dev/null |
        jq '[.[] | select(.depth == 0 and .data) | .length] | add // 0')
    local sc=$cluster apparent blocks
    [[ $extl2 == on ]] && sc=$((cluster / 32))
    read -r apparent blocks < <(stat -c '%s %b' "$img")
    local subclusters=$(((map_bytes + sc - 1) / sc))
    awk -v c="$case" -v i="$impl" -v r="$round" -v size="$apparent" -v du="$((blocks * 512))" \
        -v sc="$subclusters" -v end="$end" -v data="$((clusters * cluster))" -v p="$problems" 'BEGIN {
        OFS = "\t"
        print "w5", c, i, r, "file_MiB", sprintf("%.1f", size / 1048576)
        print "w5", c, i, r, "du_MiB", sprintf("%.1f", du / 1048576)
        print "w5", c, i, r, "alloc_subclusters", sc
        print "w5", c, i, r, "meta_B_per_sc", sc ? sprintf("%.1f", (end - data) / sc) : "0"
        print "w5", c, i, r, "du_B_per_sc", sc ? sprintf("%.0f", du / sc) : "0"
        print "w5", c, i, r, "check_problems", p
    }' >>"$TSV"
    ((problems == 0)) || note "w5 $impl $case: qemu-img check found $problems problem(s) in the image"
}

# Workloads 1 and 2: 4 KiB random writes into fresh overlays (BACKING raw, qcow2 or none); each
# written image then gets workload 5's statistics. W1 runs the FUSE limit (a null disk of the same
# size) next to ours in every case, so each case has its own paired ours/limit ratio (issue 18 target 2).
overlay_writes() {
    local w=$1 backings=("${@:2}") round b c e q with=()
    local size=$DISK_BYTES
    [[ $w == w1 ]] && with=(with-limit)
    for ((round = 1; round <= ROUNDS; round++)); do
        for b in "${backings[@]}"; do
            for c in "${CLUSTERS[@]}"; do
                for e in "${EXTL2S[@]}"; do
                    local tpl=$RUN/tpl-$b-$c-$e.qcow2
                    if [[ ! -f $tpl ]]; then
                        case $b in
                            raw) make_overlay "$tpl" "$DISK" "$c" "$e" "$(base_raw "$DISK")" raw ;;
                            qcow2) make_overlay "$tpl" "$DISK" "$c" "$e" "$(base_qcow2 "$DISK")" qcow2 ;;
                            none) make_overlay "$tpl" "$DISK" "$c" "$e" ;;
                        esac
                    fi
                    for q in "${QDS[@]}"; do
                        local case="backing=$b cluster=$c extl2=$e qd=$q" impl img
                        for impl in $(impls "$round" "${with[@]}"); do
                            if [[ $impl == limit ]]; then
                                serve_and_run "$w" limit "$round" "$size" "$size" "$case|randwrite|4k|$q|iops"
                                continue
                            fi
                            img=$(fresh_copy "$tpl" disk.qcow2)
                            serve_and_run "$w" "$impl" "$round" "$img" "$size" "$case|randwrite|4k|$q|iops" &&
                                image_stats "$case" "$impl" "$round" "$img" "$c" "$e"
                            rm -f "$img"
                        done
                    done
                done
            done
        done
        # The ceiling: the same job on a plain file (fully written for w1, sparse for w2), once per
        # queue depth and shown on every row with that depth.
        for q in "${QDS[@]}"; do
            local src img
            if [[ $w == w1 ]]; then src=$(base_raw "$DISK"); else src=$(empty_raw "$DISK"); fi
            img=$(fresh_copy "$src" disk.raw)
            if serve ceiling "$img" && run_fio "$SERVE_FILE" randwrite 4k "$q" "$size"; then
                log "  [$w r$round] ceiling qd=$q: $FIO_IOPS IOPS"
                for b in "${backings[@]}"; do for c in "${CLUSTERS[@]}"; do for e in "${EXTL2S[@]}"; do
                    record_fio "$w" "backing=$b cluster=$c extl2=$e qd=$q" ceiling "$round" iops
                done; done; done
            else
                note "$w ceiling qd=$q: $SERVE_ERR"
            fi
            rm -f "$img"
        done
        [[ -n $LIMIT && -n $OURS && $w == w1 ]] && record_ratio "$w" "$round" ours limit
        # Give the deleted overlays' blocks back to the host after every round, not only on exit: on a
        # shared machine a round of workload 1 grew the sparse scratch image by ~10 GiB and the host's
        # disk ran full under the next round (2026-12-07).
        fstrim "$SCRATCH" 2>/dev/null || :
    done
}

# empty_raw SIZE: a sparse raw file (the ceiling for writes into a fresh disk).
empty_raw() {
    local f=$CACHE/empty-$1.raw
    [[ -f $f ]] || truncate -s "$(bytes "$1")" "$f"
    echo "$f"
}

w1() {
    overlay_writes w1 "${BACKINGS[@]}"
    engine_writes
}
w1e() { engine_writes; }

# Workload 1, engine only (w1e): qcow2mount bench and qemu-img bench with the same options, no FUSE.
# 4 KiB writes at QD1, each into a new cluster (8 KiB into it) of a fresh overlay over the raw
# backing file: what extended L2 saves per allocation, without a FUSE round trip per request capping
# the fast side. Timed by the tools themselves (the writes; a final flush is not timed).
engine_writes() {
    [[ -n $OURS ]] || return 0
    local raw round c e impl n out secs img=$RUN/engine.qcow2
    raw=$(base_raw "$DISK") || return 0
    for ((round = 1; round <= ROUNDS; round++)); do
        for c in "${CLUSTERS[@]}"; do
            n=$((DISK_BYTES / $(bytes "$c")))
            ((n > 32768)) && n=32768
            local args=(bench -w -c "$n" -d 1 -o 8k -s 4k -S "$(bytes "$c")" --pattern=165 -t writeback)
            for e in "${EXTL2S[@]}"; do
                for impl in $(impls "$round"); do
                    rm -f "$img"
                    make_overlay "$img" "$DISK" "$c" "$e" "$raw" raw
                    sync
                    if [[ $impl == ours ]]; then
                        out=$("$OURS" "${args[@]}" "$img" 2>&1)
                    else
                        out=$(qemu-img "${args[@]}" -f qcow2 "$img" 2>&1)
                    fi
                    secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p' <<<"$out")
                    if [[ -z $secs ]] || ! awk -v s="$secs" 'BEGIN { exit !(s > 0) }'; then
                        note "w1e $impl cluster=$c extl2=$e: $(tail -1 <<<"$out" | cut -c1-200)"
                        continue
                    fi
                    record w1e "cluster=$c extl2=$e" "$impl" "$round" iops "$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')"
                    log "  [w1e r$round] cluster=$c extl2=$e  $impl: $n writes in $secs s"
                done
            done
        done
    done
    rm -f "$img"
}
w2() { overlay_writes w2 none; }

# Workloads 3 and 4: a fully allocated image (a fresh copy per implementation and round). W3 also
# runs the FUSE limit (a null disk behind our FUSE loop: no image) and records ours/limit per round.
allocated() {
    local w=$1 round impl img
    shift
    for ((round = 1; round <= ROUNDS; round++)); do
        for impl in $(impls "$round" with-ceiling "$([[ $w == w3 ]] && echo with-limit)"); do
            case $impl in
                ceiling) img=$(fresh_copy "$(base_raw "$DISK")" disk.raw) ;;
                limit) img=$DISK_BYTES ;;
                *) img=$(fresh_copy "$(base_qcow2 "$DISK")" disk.qcow2) ;;
            esac
            serve_and_run "$w" "$impl" "$round" "$img" "$DISK_BYTES" "$@"
            [[ $impl == limit ]] || rm -f "$img"
        done
        [[ -n $LIMIT && -n $OURS && $w == w3 ]] && record_ratio "$w" "$round" ours limit
    done
}
W3_JOBS=("rw=randread qd=1|randread|4k|1|iops" "rw=randread qd=16|randread|4k|16|iops"
    "rw=randwrite qd=1|randwrite|4k|1|iops" "rw=randwrite qd=16|randwrite|4k|16|iops")
W4_JOBS=("rw=read bs=1M qd=16|read|1M|16|MiBps" "rw=write bs=1M qd=16|write|1M|16|MiBps")
w3() { allocated w3 "${W3_JOBS[@]}"; }
w4() { allocated w4 "${W4_JOBS[@]}"; }

# Workload 9: the FUSE transports, /dev/fuse reads and writes against FUSE over io_uring (kernel
# 6.14+, switched per run with enable_uring), for the FUSE limit and for ours on workload 3's image,
# with workloads 3's and 4's jobs. Per round and implementation the two transports run back to back,
# /dev/fuse first in odd rounds; every run checks from the server's io_uring completions that it
# used the transport it was meant to.
w9() {
    if [[ ! -w $URING_SWITCH ]]; then
        note "w9: this kernel has no FUSE over io_uring ($URING_SWITCH is missing): nothing to compare"
        return 0
    fi
    local round impl t img
    for ((round = 1; round <= ROUNDS; round++)); do
        for impl in ${LIMIT:+limit} ${OURS:+ours}; do
            for t in $( ((round % 2)) && echo dev uring || echo uring dev); do
                if [[ $impl == limit ]]; then img=$DISK_BYTES; else img=$(fresh_copy "$(base_qcow2 "$DISK")" disk.qcow2); fi
                transport_run "$impl" "$t" "$round" "$img"
                [[ $impl == limit ]] || rm -f "$img"
            done
            record_ratio w9 "$round" "$impl-uring" "$impl-dev"
        done
        [[ -n $LIMIT && -n $OURS ]] && record_ratio w9 "$round" ours-dev limit-dev && record_ratio w9 "$round" ours-uring limit-uring
    done
    [[ -n ${FUSE_URING:-$SAVED_URING} ]] && fuse_uring "${FUSE_URING:-$SAVED_URING}" # what the other workloads run with
}

# transport_run IMPL dev|uring ROUND IMAGE: one server with the kernel switch set for the transport,
# the jobs of w3 and w4, recorded as IMPL-dev or IMPL-uring.
transport_run() {
    local impl=$1 t=$2 round=$3 image=$4 label=$1-$2 job case rw bs qd primary
    fuse_uring "$([[ $t == uring ]] && echo Y || echo N)"
    if ! serve "$impl" "$image"; then
        note "w9 $label: $SERVE_ERR"
        return 1
    fi
    for job in "${W3_JOBS[@]}" "${W4_JOBS[@]}"; do
        IFS='|' read -r case rw bs qd primary <<<"$job"
        if run_fio "$SERVE_FILE" "$rw" "$bs" "$qd" "$DISK_BYTES"; then
            record_fio w9 "$case" "$label" "$round" "$primary"
            log "  [w9 r$round] $case  $label: $FIO_IOPS IOPS, $FIO_MIBS MiB/s, p99 $FIO_P99_US us"
        else
            note "w9 $label $case: $SERVE_ERR"
        fi
    done
    local completions
    completions=$(uring_completions "$SERVE_PID")
    if [[ $t == uring ]] && ((completions == 0)); then
        note "w9 $label: the server answered nothing over io_uring (its log: $(head -c 200 "$RUN/$impl.log"))"
    elif [[ $t == dev ]] && ((completions != 0)); then
        note "w9 $label: the server answered $completions requests over io_uring with the kernel switch off"
    fi
    unserve || note "w9 $label: $SERVE_ERR"
}

# Workload 6: mount and unmount latency of an overlay over a qcow2 backing file (opens the chain), in fair
# pairs: each server in the foreground (ours -f, qemu-storage-daemon started with &; both stopped by SIGTERM),
# and each daemonized (ours as users run it, qemu-storage-daemon --daemonize; both commands return once the
# export serves). A daemonized mount of ours is stopped in turn by `qcow2mount unmount`, `umount DIR` and
# SIGTERM (qemu: SIGTERM, its only stop, in every row). Ours is the published binary when there is one.
W6_PID='' W6_MNT='' W6_FILE='' W6_MS='' W6_ERR=''
w6_nap() { read -rt 0.0005 -u "$NAP_FD" _ || :; } # finer than nap: the latencies are ~10 ms

# w6_mount IMPL MODE IMAGE: mounts (MODE fg|daemon), sets W6_MS (command start → raw file served and, daemonized,
# the command returned), W6_PID (the serving process), W6_MNT, W6_FILE.
w6_mount() {
    local impl=$1 mode=$2 image=$3 t0 t1 launcher='' rc=0 bin=${OURS_MOUNT_BIN:-$OURS}
    W6_PID='' W6_MS='' W6_ERR=''
    if [[ $impl == qemu ]]; then
        W6_MNT=$RUN/mnt-qemu.raw W6_FILE=$RUN/mnt-qemu.raw
        rm -f "$W6_MNT" && : >"$W6_MNT"
        local args=(--blockdev "driver=file,node-name=file0,filename=$image"
            --blockdev driver=qcow2,node-name=fmt0,file=file0
            --export "type=fuse,id=exp0,node-name=fmt0,mountpoint=$W6_MNT,writable=on")
        rm -f "$RUN/qsd.pid"
        t0=$(now_ms)
        if [[ $mode == fg ]]; then
            qemu-storage-daemon "${args[@]}" >"$RUN/qemu.log" 2>&1 &
            launcher=$!
        else
            qemu-storage-daemon "${args[@]}" --daemonize --pidfile "$RUN/qsd.pid" >"$RUN/qemu.log" 2>&1 || rc=$?
        fi
    else
        W6_MNT=$RUN/mnt-ours W6_FILE=$RUN/mnt-ours/disk.raw
        mkdir -p "$W6_MNT"
        t0=$(now_ms)
        if [[ $mode == fg ]]; then
            "$bin" -f "$image" "$W6_MNT" >"$RUN/ours.log" 2>&1 &
            launcher=$!
        else
            "$bin" "$image" "$W6_MNT" >"$RUN/ours.log" 2>&1 || rc=$?
        fi
    fi
    if ((rc != 0)); then
        W6_ERR="$impl $mode exited with $rc: $(grep -m1 -v '^\s*$' "$RUN/$impl.log" | cut -c1-200)"
        return 1
    fi
    [[ -n $launcher ]] && ACTIVE_PIDS+=("$launcher")
    ACTIVE_MNTS+=("$W6_MNT")
    local deadline=$((${EPOCHREALTIME%[.,]*} + SERVE_TIMEOUT_S))
    until [[ -s $W6_FILE ]] && is_mounted "$W6_MNT"; do
        if [[ -n $launcher ]] && ! alive "$launcher"; then
            W6_ERR="$impl $mode exited before serving: $(grep -m1 -v '^\s*$' "$RUN/$impl.log" | cut -c1-200)"
            force_stop
            return 1
        fi
        if ((${EPOCHREALTIME%[.,]*} > deadline)); then
            W6_ERR="$impl $mode did not serve $W6_FILE within ${SERVE_TIMEOUT_S}s"
            force_stop
            return 1
        fi
        w6_nap
    done
    t1=$(now_ms)
    W6_MS=$(elapsed_ms "$t0" "$t1")
    if [[ -n $launcher ]]; then
        W6_PID=$launcher
    elif [[ $impl == qemu ]]; then
        read -r W6_PID <"$RUN/qsd.pid"
    else
        W6_PID=$(fuse_server_pid "$W6_MNT")
    fi
    [[ -n $W6_PID ]] || { W6_ERR="$impl $mode: no serving process found"; force_stop; return 1; }
    ACTIVE_PIDS+=("$W6_PID")
}

# w6_unmount HOW: stops the server (HOW term|command|umount) and sets W6_MS (stop → serving process gone, to the
# microsecond: exit_watch; a poll of /proc every 0.5 ms made a median of nine stops jump by its steps).
w6_unmount() {
    local how=$1 t0 rc=0 bin=${OURS_MOUNT_BIN:-$OURS}
    W6_MS=''
    exit_watch "$W6_PID" || { W6_ERR="cannot watch the server's exit (python3 pidfd_open)"; force_stop; return 1; }
    t0=$EPOCHREALTIME
    case $how in
        term) kill -TERM "$W6_PID" 2>/dev/null || rc=$? ;;
        command) "$bin" unmount "$W6_MNT" >>"$RUN/ours.log" 2>&1 || rc=$? ;;
        umount) umount "$W6_MNT" >>"$RUN/ours.log" 2>&1 || rc=$? ;;
    esac
    if ((rc != 0)) || ! exit_watched "$t0"; then
        exit_unwatch
        W6_ERR="$how did not stop the server cleanly (rc=$rc)"
        force_stop
        return 1
    fi
    W6_MS=$EXIT_MS
    local p
    for p in "${ACTIVE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ACTIVE_PIDS=() ACTIVE_MNTS=()
    if is_mounted "$W6_MNT"; then
        W6_ERR="$how left $W6_MNT mounted after the server exited"
        force_stop
        return 1
    fi
}

w6() {
    local tpl=$RUN/tpl-mount.qcow2 i impl img how n=$((ROUNDS * 3)) ms
    local fg="overlay on qcow2 backing, foreground (ours -f, qsd &)"
    local bg="overlay on qcow2 backing, daemonized (ours, qsd --daemonize)"
    local hows=(command umount term)
    local -A metric=([command]=unmount_ms [umount]=umount_ms [term]=sigterm_ms)
    make_overlay "$tpl" "$DISK" 64k off "$(base_qcow2 "$DISK")" qcow2
    for ((i = 1; i <= n; i++)); do
        how=${hows[$(((i - 1) % 3))]}
        for impl in $(impls "$i"); do
            img=$(fresh_copy "$tpl" disk.qcow2)
            if w6_mount "$impl" fg "$img" && ms=$W6_MS && w6_unmount term; then
                record w6 "$fg" "$impl" "$i" mount_ms "$ms"
                record w6 "$fg" "$impl" "$i" unmount_ms "$W6_MS"
                log "  [w6 #$i] $impl foreground: mount $ms ms, SIGTERM $W6_MS ms"
            else
                note "w6 $impl foreground: $W6_ERR"
            fi
            local stop=$how
            [[ $impl == qemu ]] && stop=term
            if w6_mount "$impl" daemon "$img" && ms=$W6_MS && w6_unmount "$stop"; then
                record w6 "$bg" "$impl" "$i" mount_ms "$ms"
                record w6 "$bg" "$impl" "$i" "${metric[$how]}" "$W6_MS"
                log "  [w6 #$i] $impl daemonized: mount $ms ms, $stop $W6_MS ms"
            else
                note "w6 $impl daemonized: $W6_ERR"
            fi
            rm -f "$img"
        done
    done
}

# Workload 7: peak RSS of the serving process on a sparse 1 TiB image under 4 KiB random writes (and
# their IOPS and p99: almost every write allocates a cluster, and the 32 MiB L2 cache evicts dirty tables).
w7() {
    local tpl=$RUN/tpl-1t.qcow2 round impl img case="1 TiB, cluster=64k, randwrite 4k qd=16"
    make_overlay "$tpl" 1T 64k off
    for ((round = 1; round <= ROUNDS; round++)); do
        for impl in $(impls "$round"); do
            img=$(fresh_copy "$tpl" disk.qcow2)
            if serve "$impl" "$img"; then
                local idle peak
                idle=$(vm_kib "$SERVE_PID" VmHWM)
                if run_fio "$SERVE_FILE" randwrite 4k 16 "$(bytes 1T)" --norandommap; then
                    peak=$(vm_kib "$SERVE_PID" VmHWM)
                    record w7 "$case" "$impl" "$round" rss_mounted_MiB "$(awk -v k="$idle" 'BEGIN { printf "%.1f", k / 1024 }')"
                    record w7 "$case" "$impl" "$round" rss_peak_MiB "$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')"
                    record w7 "$case" "$impl" "$round" iops "$FIO_IOPS"
                    record w7 "$case" "$impl" "$round" p99_us "$FIO_P99_US"
                    log "  [w7 r$round] $impl: VmHWM $idle KiB after mount, $peak KiB after fio"
                else
                    note "w7 $impl: $SERVE_ERR"
                fi
                unserve || note "w7 $impl: $SERVE_ERR"
            else
                note "w7 $impl: $SERVE_ERR"
            fi
            rm -f "$img"
        done
    done
}

# Workload 8: qcow2 → raw conversion of the fully allocated image, checked against the source data.
w8() {
    local src raw round impl t0 t1 out=$RUN/converted.raw case="qcow2 → raw, fully allocated"
    src=$(base_qcow2 "$DISK")
    raw=$(base_raw "$DISK")
    local impls_here=(qemu)
    if [[ -n $OURS ]]; then
        if "$OURS" convert --help >/dev/null 2>&1; then impls_here=(ours qemu); else note "w8: $OURS has no 'convert' verb yet; ours skipped"; fi
    else
        note "w8: ours is not available; only qemu-img convert measured"
    fi
    # Both read the source from the page cache (the first reader would otherwise pay for the disk), and the
    # order alternates per round, so neither always runs right after the other's output was dropped.
    # One untimed conversion first: the first writer into fresh scratch space also pays for allocating it in
    # the host's sparse scratch image (measured: 13 s for whoever went first, then 3-4 s for both).
    cat "$src" >/dev/null
    qemu-img convert -f qcow2 -O raw "$src" "$out" >/dev/null 2>&1
    rm -f "$out"
    for ((round = 1; round <= ROUNDS; round++)); do
        local order=("${impls_here[@]}")
        ((round % 2 == 0 && ${#order[@]} == 2)) && order=("${order[1]}" "${order[0]}")
        for impl in "${order[@]}"; do
            rm -f "$out"
            sync
            t0=$(now_ms)
            case $impl in
                qemu) qemu-img convert -f qcow2 -O raw "$src" "$out" ;;
                ours) "$OURS" convert -f qcow2 -O raw "$src" "$out" ;;
            esac >"$RUN/convert.log" 2>&1
            local rc=$?
            t1=$(now_ms)
            if ((rc != 0)); then
                note "w8 $impl: convert exited with $rc: $(head -c 200 "$RUN/convert.log")"
                continue
            fi
            local ms
            ms=$(elapsed_ms "$t0" "$t1")
            record w8 "$case" "$impl" "$round" seconds "$(awk -v m="$ms" 'BEGIN { printf "%.2f", m / 1000 }')"
            record w8 "$case" "$impl" "$round" MiBps "$(awk -v m="$ms" -v b="$DISK_BYTES" 'BEGIN { printf "%.0f", b / 1048576 / (m / 1000) }')"
            cmp -s "$out" "$raw" || note "w8 $impl: the converted file differs from the source data"
            log "  [w8 r$round] $impl: $ms ms"
        done
    done
    rm -f "$out"
}

# Workload 10 (issue 18, "flat as images grow"): the same measurements on sparse qcow2 images
# (64 KiB clusters) from 1 GiB to 64 TiB: mount time, VmRSS after the mount and after the first
# 4 KiB read, that read's latency (O_DIRECT, so it reaches the server), unmount time; ours with 1,
# 16 and 100 images in one mount (QEMU's daemon exports one image per export: not compared); and
# check and convert (to qcow2: ext4 cannot hold a 64 TiB raw file) of images of every size that
# hold the same 64 MiB of data, whose time should follow the data, not the virtual size.
W10_SIZES=(1G 64G 1T 64T)
W10_COUNTS=(1 16 100)
w10() {
    local round size impl img t0 t1
    for ((round = 1; round <= ROUNDS; round++)); do
        for size in "${W10_SIZES[@]}"; do
            local tpl=$RUN/tpl-flat-$size.qcow2
            [[ -f $tpl ]] || make_overlay "$tpl" "$size" 64k off
            for impl in $(impls "$round"); do
                img=$(fresh_copy "$tpl" disk.qcow2)
                if serve "$impl" "$img"; then
                    local case="size=$size" mounted read_us after
                    mounted=$(vm_kib "$SERVE_PID" VmRSS)
                    t0=$(now_ms)
                    dd if="$SERVE_FILE" of=/dev/null bs=4k count=1 iflag=direct status=none || note "w10 $impl $case: the first read failed"
                    t1=$(now_ms)
                    read_us=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
                    after=$(vm_kib "$SERVE_PID" VmRSS)
                    if unserve; then
                        record w10 "$case" "$impl" "$round" mount_ms "$SERVE_MS"
                        record w10 "$case" "$impl" "$round" first_read_us "$read_us"
                        record w10 "$case" "$impl" "$round" rss_mounted_MiB "$(awk -v k="$mounted" 'BEGIN { printf "%.1f", k / 1024 }')"
                        record w10 "$case" "$impl" "$round" rss_after_read_MiB "$(awk -v k="$after" 'BEGIN { printf "%.1f", k / 1024 }')"
                        record w10 "$case" "$impl" "$round" unmount_ms "$UNSERVE_MS"
                        log "  [w10 r$round] $case $impl: mount $SERVE_MS ms, first read $read_us us, RSS $mounted/$after KiB, unmount $UNSERVE_MS ms"
                    else
                        note "w10 $impl $case: $SERVE_ERR"
                    fi
                else
                    note "w10 $impl $case: $SERVE_ERR"
                fi
                rm -f "$img"
            done
        done
        [[ -n $OURS ]] && flat_counts "$round"
        flat_tools "$round"
    done
}

# flat_counts ROUND: ours with 1, 16 and 100 sparse 1 TiB images in one mount.
flat_counts() {
    local round=$1 n i mnt=$RUN/mnt-many pid t0 t1 rss
    local tpl=$RUN/tpl-flat-1T.qcow2
    [[ -f $tpl ]] || make_overlay "$tpl" 1T 64k off
    for n in "${W10_COUNTS[@]}"; do
        local imgs=() case="images=$n, 1 TiB each"
        rm -rf "$RUN/many" && mkdir -p "$RUN/many" "$mnt"
        for ((i = 0; i < n; i++)); do
            cp --sparse=always "$tpl" "$RUN/many/d$i.qcow2"
            imgs+=("$RUN/many/d$i.qcow2")
        done
        sync
        t0=$(now_ms)
        if ! "$OURS" "${imgs[@]}" "$mnt" >"$RUN/ours.log" 2>&1; then
            note "w10 ours $case: mount failed: $(head -c 200 "$RUN/ours.log")"
            continue
        fi
        t1=$(now_ms)
        ACTIVE_MNTS+=("$mnt")
        pid=$(fuse_server_pid "$mnt")
        rss=$(vm_kib "$pid" VmRSS)
        record w10 "$case" ours "$round" mount_ms "$(elapsed_ms "$t0" "$t1")"
        record w10 "$case" ours "$round" rss_mounted_MiB "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
        for ((i = 0; i < n; i++)); do
            dd if="$mnt/d$i.raw" of=/dev/null bs=4k count=1 iflag=direct status=none || note "w10 ours $case: read of d$i.raw failed"
        done
        rss=$(vm_kib "$pid" VmRSS)
        record w10 "$case" ours "$round" rss_after_read_MiB "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
        t0=$(now_ms)
        "$OURS" unmount "$mnt" >>"$RUN/ours.log" 2>&1 || note "w10 ours $case: unmount failed"
        while alive "$pid"; do nap; done
        t1=$(now_ms)
        record w10 "$case" ours "$round" unmount_ms "$(elapsed_ms "$t0" "$t1")"
        log "  [w10 r$round] $case: RSS $rss KiB after a read of each"
        ACTIVE_MNTS=()
        rm -rf "$RUN/many"
    done
}

# flat_tools ROUND: check and convert -O qcow2 of images of every size holding the same 64 MiB.
flat_tools() {
    local round=$1 size impl t0 t1 tpl out=$RUN/flat-out.qcow2
    for size in "${W10_SIZES[@]}"; do
        tpl=$RUN/tpl-flat-data-$size.qcow2
        if [[ ! -f $tpl ]]; then
            make_overlay "$tpl" "$size" 64k off
            qemu-io -f qcow2 -c "write -P 7 0 32M" -c "write -P 9 $(($(bytes "$size") - (32 << 20))) 32M" "$tpl" >/dev/null ||
                { note "w10: qemu-io could not fill $tpl"; continue; }
        fi
        for impl in $(impls "$round"); do
            local tool=(qemu-img)
            [[ $impl == ours ]] && tool=("$OURS")
            t0=$(now_ms)
            "${tool[@]}" check -f qcow2 "$tpl" >"$RUN/tool.log" 2>&1 || note "w10 $impl check size=$size: $(head -c 200 "$RUN/tool.log")"
            t1=$(now_ms)
            record w10 "size=$size, 64 MiB data" "$impl" "$round" check_ms "$(elapsed_ms "$t0" "$t1")"
            rm -f "$out"
            t0=$(now_ms)
            "${tool[@]}" convert -f qcow2 -O qcow2 "$tpl" "$out" >"$RUN/tool.log" 2>&1 || note "w10 $impl convert size=$size: $(head -c 200 "$RUN/tool.log")"
            t1=$(now_ms)
            record w10 "size=$size, 64 MiB data" "$impl" "$round" convert_ms "$(elapsed_ms "$t0" "$t1")"
            rm -f "$out"
        done
    done
}

# Workload 11 (issue 18): compressed conversion, `convert -c -O qcow2` against `qemu-img convert -c
# -m 8 -W`, zlib and zstd, of a disk of realistic data: per 4 MiB, 2 MiB of random bytes, 1 MiB of
# text-like bytes (words of a made-up vocabulary, 64 MiB of it reused) and 1 MiB of zeros. Both write
# 64 KiB clusters with standard L2 tables (QEMU's default layout; ours defaults to 128 KiB extended L2).
w11() {
    local src=$CACHE/mixed-$DISK.qcow2 out=$RUN/compressed.qcow2 round impl type t0 t1
    if [[ ! -f $src ]]; then
        log "making $src (half random, a quarter text-like, a quarter zeros)"
        python3 "$ROOT/scripts/bench/mixed_data.py" "$RUN/mixed.raw" "$((DISK_BYTES >> 20))" &&
            qemu-img convert -f raw -O qcow2 "$RUN/mixed.raw" "$src.tmp" && mv "$src.tmp" "$src" || { note "w11: could not make $src"; rm -f "$RUN/mixed.raw"; return 0; }
        rm -f "$RUN/mixed.raw"
    fi
    cat "$src" >/dev/null
    for ((round = 1; round <= ROUNDS; round++)); do
        for type in zlib zstd; do
            local case="compression_type=$type" opts="cluster_size=65536,compression_type=$type"
            for impl in $(impls "$round"); do
                rm -f "$out"
                sync
                t0=$(now_ms)
                # A subshell whose only child is the converter: the second line of `times` is that child's user and
                # system CPU time ("0m1.234s 0m0.056s").
                (
                    case $impl in
                        qemu) qemu-img convert -c -m 8 -W -f qcow2 -O qcow2 -o "$opts" "$src" "$out" ;;
                        ours) "$OURS" convert -c -f qcow2 -O qcow2 -o "$opts,extended_l2=off" "$src" "$out" ;;
                    esac >"$RUN/convert.log" 2>&1
                    rc=$?
                    times >"$RUN/convert.cpu"
                    exit $rc
                )
                local rc=$?
                t1=$(now_ms)
                if ((rc != 0)); then
                    note "w11 $impl $case: convert exited with $rc: $(head -c 200 "$RUN/convert.log")"
                    continue
                fi
                record w11 "$case" "$impl" "$round" seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')"
                record w11 "$case" "$impl" "$round" cpu_s "$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } } END { printf "%.2f", t }' "$RUN/convert.cpu")"
                record w11 "$case" "$impl" "$round" size_MiB "$(stat -c %s "$out" | awk '{ printf "%.1f", $1 / 1048576 }')"
                record w11 "$case" "$impl" "$round" load_avg "$(cut -d' ' -f1 /proc/loadavg)"
                qemu-img compare -q "$src" "$out" || note "w11 $impl $case: the output differs from the source"
                log "  [w11 r$round] $case $impl: $(elapsed_ms "$t0" "$t1") ms"
            done
        done
    done
    rm -f "$out"
}

# Workload 12 (issue 18, target 6: "durability costs no more than QEMU's"). (a) 4 KiB random writes
# with an fsync after each (fio fsync=1, QD1: a journal or a database inside the disk) into a fresh
# overlay over the fully written raw backing file, ours against QEMU, with the FUSE limit (its fsync
# does nothing: the FUSE round trips alone); one writer, four at once (fio numjobs, IOPS summed:
# concurrent syncs, which a server can share), and one beside a reader (4 KiB random reads at QD1 in
# a job of its own: what the syncs cost other requests). (b) the flush of about 1 GiB of dirty L2 tables.
W12_CASES=("128k on 1" "64k off 1" "128k on 4" "128k on 1 reader")
w12() {
    local round ce c e jobs reader impl img tpl case reader_job
    for ((round = 1; round <= ROUNDS; round++)); do
        for ce in "${W12_CASES[@]}"; do
            read -r c e jobs reader <<<"$ce"
            tpl=$RUN/tpl-raw-$c-$e.qcow2
            [[ -f $tpl ]] || make_overlay "$tpl" "$DISK" "$c" "$e" "$(base_raw "$DISK")" raw
            case="fsync=1 backing=raw cluster=$c extl2=$e qd=1"
            ((jobs == 1)) || case+=" jobs=$jobs"
            [[ -z $reader ]] || case+=" with a reader"
            for impl in $(impls "$round" with-limit); do
                if [[ $impl == limit ]]; then img=$DISK_BYTES; else img=$(fresh_copy "$tpl" disk.qcow2); fi
                if serve "$impl" "$img"; then
                    reader_job=()
                    # The reader is a job of its own in a group of its own (so the writer's numbers stay its own).
                    [[ -z $reader ]] || reader_job=(--name=reader --new_group --filename="$SERVE_FILE" --ioengine=libaio
                        --direct=1 --time_based --runtime="$RUNTIME" --size="$DISK_BYTES" --rw=randread --bs=4k
                        --iodepth=1 --randrepeat=0 --randseed="$FIO_SEED" --invalidate=0)
                    if run_fio "$SERVE_FILE" randwrite 4k 1 "$DISK_BYTES" --fsync=1 --numjobs="$jobs" --group_reporting "${reader_job[@]}"; then
                        # fio's write latency leaves the fsync out; the fsync's own latency is its "sync" part.
                        local sync99 riops='' rp99=''
                        sync99=$(jq -r '(.jobs[0].sync.lat_ns.percentile["99.000000"] // 0) / 1000' "$RUN/fio.json")
                        record_fio w12 "$case" "$impl" "$round" iops
                        record w12 "$case" "$impl" "$round" fsync_p99_us "$(printf '%.1f' "$sync99")"
                        if [[ -n $reader ]]; then
                            read -r riops rp99 <<<"$(jq -r '.jobs[1].read | "\(.iops) \((.clat_ns.percentile["99.000000"] // 0) / 1000)"' "$RUN/fio.json")"
                            record w12 "$case" "$impl" "$round" reader_iops "$(printf '%.0f' "$riops")"
                            record w12 "$case" "$impl" "$round" reader_p99_us "$(printf '%.1f' "$rp99")"
                        fi
                        log "  [w12 r$round] $case  $impl: $FIO_IOPS IOPS, p99 $FIO_P99_US us, fsync p99 $sync99 us${reader:+, reader $riops IOPS, p99 $rp99 us}"
                    else
                        note "w12 $impl $case: $SERVE_ERR"
                    fi
                    unserve || note "w12 $impl: $SERVE_ERR"
                    [[ $impl == limit ]] || w12_check "$case" "$impl" "$img"
                else
                    note "w12 $impl: $SERVE_ERR"
                fi
                [[ $impl == limit ]] || rm -f "$img"
            done
        done
        for impl in $(impls "$round"); do w12_dirty_flush "$impl" "$round"; done
    done
}

# w12_check CASE IMPL IMAGE: qemu-img check of an image a server wrote (nothing serves it now).
w12_check() {
    qemu-img check -q -f qcow2 "$3" >"$RUN/check.log" 2>&1 ||
        note "w12 $2 $1: qemu-img check: $(grep -m1 -v '^\s*$' "$RUN/check.log" | cut -c1-200)"
}

# Workload 12b: W12_TABLES (16384) L2 tables of 64 KiB exist in an 8 TiB image (made once, offline,
# with zero writes); both servers get a 1 GiB L2 cache (ours QCOW2MOUNT_CACHE_SIZE, QEMU l2-cache-size),
# one 4 KiB O_DIRECT write into a new cluster of every table makes 1 GiB of them dirty, no fsync. FUSE
# sends FLUSH at every close(2) and both servers flush their caches then, so the writer's close is the
# flush of the dirty cache (flush_ms); unmount_ms follows (ours: unmount command; QEMU: SIGTERM; until
# the server is gone). Then qemu-img check.
W12_TABLES=16384
w12_dirty_flush() {
    local impl=$1 round=$2 tpl=$CACHE/tpl-w12-8t.qcow2 img out i case="8 TiB, cluster=64k, $W12_TABLES L2 tables dirty, L2 cache 1 GiB"
    if [[ ! -f $tpl ]]; then
        log "making $tpl ($W12_TABLES L2 tables, zero clusters only)"
        make_overlay "$tpl.tmp" $((W12_TABLES * 512))M 64k off
        for ((i = 0; i < W12_TABLES; i++)); do echo "write -z $((i * 512))M 64k"; done |
            qemu-io -t unsafe -f qcow2 "$tpl.tmp" >/dev/null 2>&1 || die "could not make $tpl"
        mv "$tpl.tmp" "$tpl"
    fi
    img=$(fresh_copy "$tpl" disk.qcow2)
    export QCOW2MOUNT_CACHE_SIZE=1G
    # shellcheck disable=SC2034 # read by serve (lib.sh)
    QEMU_QCOW2_OPTS=,l2-cache-size=$((1 << 30))
    if serve "$impl" "$img"; then
        unset QCOW2MOUNT_CACHE_SIZE QEMU_QCOW2_OPTS
        # One write per table, into the cluster after the zero one, then the timed close.
        if out=$(python3 - "$SERVE_FILE" "$W12_TABLES" 2>&1 <<'PY'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf.write(b"\xa5" * 4096)
t0 = time.monotonic()
for i in range(int(sys.argv[2])):
    os.pwrite(fd, buf, i * (512 << 20) + (64 << 10))
t1 = time.monotonic()
os.close(fd)
t2 = time.monotonic()
print(f"{(t1 - t0) * 1000:.0f} {(t2 - t1) * 1000:.1f}")
PY
        ); then
            local write_ms flush_ms rss
            read -r write_ms flush_ms <<<"$out"
            rss=$(vm_kib "$SERVE_PID" VmHWM)
            if unserve; then
                record w12 "$case" "$impl" "$round" write_ms "$write_ms"
                record w12 "$case" "$impl" "$round" flush_ms "$flush_ms"
                record w12 "$case" "$impl" "$round" unmount_ms "$UNSERVE_MS"
                record w12 "$case" "$impl" "$round" rss_peak_MiB "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
                log "  [w12 r$round] dirty cache $impl: writes $write_ms ms, flush at close $flush_ms ms, unmount $UNSERVE_MS ms, VmHWM $rss KiB"
            else
                note "w12 $impl: $SERVE_ERR"
            fi
        else
            note "w12 $impl dirty cache: the writer failed: $(head -c 200 <<<"$out")"
            unserve || note "w12 $impl: $SERVE_ERR"
        fi
        w12_check "$case" "$impl" "$img"
    else
        unset QCOW2MOUNT_CACHE_SIZE QEMU_QCOW2_OPTS
        note "w12 $impl: $SERVE_ERR"
    fi
    rm -f "$img"
}

# Workload 13: the slowest requests over a minute (issue 18 target 3: no request over 20 ms in a 60 s run
# on an idle machine; the five-second jobs of workloads 1–3 see too few requests to say). 4 KiB random
# writes at QD16 for TAILS seconds into a fresh 128k extended-L2 overlay over the fully written raw
# backing file (the path the format exists for), each round with the FUSE limit (a null disk behind our
# FUSE loop: what the machine and the kernel's round trip do on their own) and QEMU. Besides fio's
# percentiles, slow_windows counts the 100 ms stretches of the job whose slowest request took over 20 ms
# (fio's per-window maximum), so one stall and a recurring one read differently.
# The ceiling is the host file system alone: the stream of writes the servers make (4 KiB buffered
# pwrite from one thread per core, as many as hold a CPU turn in ours) straight into a sparse file of
# the disk's size on the same file system, no FUSE, held to ours' rate of the round (fio rate_iops),
# so its slowest request is what the page cache and the writeback of that stream cost on their own.
w13() {
    local RUNTIME=$TAILS round impl img tpl=$RUN/tpl-tails.qcow2 log=$RUN/tails ours_iops threads
    local case="backing=raw cluster=128k extl2=on qd=16 ${TAILS}s"
    threads=$(nproc)
    make_overlay "$tpl" "$DISK" 128k on "$(base_raw "$DISK")" raw
    for ((round = 1; round <= ROUNDS; round++)); do
        ours_iops=''
        for impl in $(impls "$round" with-limit with-ceiling); do
            local extra=()
            case $impl in
                limit) img=$DISK_BYTES ;;
                ceiling)
                    [[ -n $ours_iops ]] || continue
                    img=$RUN/disk.raw
                    rm -f "$img" && truncate -s "$DISK_BYTES" "$img"
                    extra=(--ioengine=psync --direct=0 --iodepth=1 --numjobs="$threads" --group_reporting
                        --rate_iops=$(((ours_iops + threads - 1) / threads)))
                    ;;
                *) img=$(fresh_copy "$tpl" disk.qcow2) ;;
            esac
            if serve "$impl" "$img"; then
                if run_fio "$SERVE_FILE" randwrite 4k 16 "$DISK_BYTES" \
                    --write_lat_log="$log" --log_avg_msec=100 --log_max_value=1 "${extra[@]}"; then
                    local slow
                    slow=$(slow_windows "$log" 20000000)
                    [[ $impl == ours ]] && ours_iops=$FIO_IOPS
                    record_fio w13 "$case" "$impl" "$round" iops
                    record w13 "$case" "$impl" "$round" p9999_us "$FIO_P9999_US"
                    [[ -n $slow ]] && record w13 "$case" "$impl" "$round" slow_windows "$slow"
                    log "  [w13 r$round] $impl: $FIO_IOPS IOPS, p99.9 $FIO_P999_US us, p99.99 $FIO_P9999_US us, max $FIO_MAX_US us, ${slow:-?} windows of 100 ms over 20 ms"
                else
                    note "w13 $impl: $SERVE_ERR"
                fi
                rm -f "$log"_*.log
                unserve || note "w13 $impl: $SERVE_ERR"
            else
                note "w13 $impl: $SERVE_ERR"
            fi
            if [[ $impl != limit ]]; then
                # A minute fills the 4 GiB overlay: give its blocks back to the host now (as workload 1 does
                # after each round), or three rounds grow the sparse scratch image by ~20 GiB.
                rm -f "$img"
                fstrim "$SCRATCH" 2>/dev/null || :
            fi
        done
    done
    rm -f "$tpl"
}
