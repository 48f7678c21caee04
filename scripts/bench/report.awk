# Turns the raw rows of scripts/bench.sh (workload, case, impl, round, metric, value; tab-separated,
# one header line) into Markdown: per workload one table of medians and paired ratios ours/qemu (and
# ours/limit where the FUSE limit ran: rows whose impl is a ratio "A/B" hold per-round ratios, shown as
# their median; metrics iops or MiBps, p50_us, p99_us, p999_us = p99.9, max_us = the slowest request), plus the extended-L2 on/off ratios for workloads 1 (with FUSE and engine only) and 2,
# and workload 9's transport table. Variable: ours ("yes" when measured).

BEGIN {
    title["w1"] = "1. 4 KiB random writes into a fresh overlay over a fully written backing file"
    title["w1e"] = "1e. Engine only: 4 KiB writes, each into a new cluster, over a fully written raw backing file (no FUSE)"
    title["w2"] = "2. 4 KiB random writes into a fresh overlay without backing file"
    title["w3"] = "3. 4 KiB random read and write on a fully allocated image"
    title["w4"] = "4. 1 MiB sequential read and write"
    title["w5"] = "5. Image size after workloads 1 and 2 (qemu-img check/map + du)"
    title["w6"] = "6. Mount and unmount latency"
    title["w7"] = "7. Peak RSS of the serving process (VmHWM)"
    title["w8"] = "8. Convert qcow2 → raw"
    title["w9"] = "9. FUSE transports: /dev/fuse against FUSE over io_uring"
    title["w10"] = "10. Flat as images grow: sparse 1 GiB to 64 TiB, 1 to 100 images in one mount"
    title["w11"] = "11. Compressed conversion: convert -c -O qcow2 (zlib, zstd)"
    title["w12"] = "12. Durability: 4 KiB random writes with fsync=1, and the flush of 1 GiB of dirty L2 tables"
    title["w13"] = "13. Tails over a minute: 4 KiB random writes at QD16 into a fresh extended-L2 overlay"
    help["w13"] = "One job per server and round, 60 s unless --tails says otherwise (the case names its length), into a fresh 128k extended-L2 overlay over the fully written raw backing file; FUSE limit: the same job over a null disk behind our FUSE loop, what the machine and the kernel's FUSE round trip do on their own. Ceiling: the host file system alone, no FUSE: the stream of writes the servers make (4 KiB buffered pwrite, one thread per core) into a sparse file of the disk's size, held to ours' rate of the round, so its slowest request is what the page cache and the writeback of that stream cost by themselves. p9999_us: the 99.99th percentile; max_us: the slowest request of the job (issue 18 target 3: none over 20 ms); slow_windows: the 100 ms stretches of the job whose slowest request took over 20 ms (fio's per-window maximum)."
    help["w12"] = "fsync=1 rows: fio randwrite 4k QD1 with an fsync after every write into a fresh overlay over the raw backing file (jobs=4: four such writers at once, IOPS summed, latencies of all four; with a reader: one writer while another job reads 4 KiB at random at QD1, reader_iops and reader_p99_us its own); p50_us/p99_us: the write alone, fsync_p99_us: the fsync after it (fio's sync latency); FUSE limit: the same over a null disk (its fsync does nothing). Dirty-cache row: one 4 KiB O_DIRECT write into a new cluster of each of 16384 existing L2 tables (write_ms), flush_ms: the writer's close(2), at which FUSE sends FLUSH and each server writes back its 1 GiB of dirty L2 tables and syncs; unmount_ms: unmount command (QEMU: SIGTERM) until the server is gone."
    help["w10"] = "first_read_us: one 4 KiB O_DIRECT read of the raw file; rss_*: VmRSS; images=N: ours only (one mount, N sparse 1 TiB images); check_ms and convert_ms (to qcow2): images of every size holding the same 64 MiB."
    help["w11"] = "qemu-img convert -c -m 8 -W against qcow2mount convert -c, both 64 KiB clusters with standard L2 tables, on a disk of 2 MiB random, 1 MiB text-like and 1 MiB zero bytes per 4 MiB; cpu_s: user + system CPU seconds of the converter (the measure that holds while the two cores are shared; on an idle machine both keep both cores busy); load_avg: the 1-minute load when each finished."
    help["w1"] = "Ceiling: the same job on a fully written raw file, measured once per queue depth and shown on every row with that depth. FUSE limit: our FUSE loop over a null disk of the same size (as in workload 3), run next to ours in every case; ours/limit: median of the per-round ratios (issue 18 target 2: at least 0.90 at QD1, 0.80 at QD16). p999_us and max_us: the 99.9th percentile and the slowest request of the job (target 3: p99 and p99.9 at most QEMU's, no request over 20 ms)."
    help["w1e"] = "`qcow2mount bench` against `qemu-img bench` with the same options (-w -d 1 -o 8k -s 4k -S CLUSTER, one request per cluster of the 4 GiB disk, at most 32768): the engines' cost per allocation without a FUSE round trip per request."
    help["w2"] = "Ceiling: the same job on a fresh sparse raw file, measured once per queue depth and shown on every row with that depth. p999_us and max_us: the 99.9th percentile and the slowest request of the job (target 3: p99 and p99.9 at most QEMU's, no request over 20 ms)."
    help["w5"] = "meta_B_per_sc = (image end offset − allocated clusters × cluster size) / allocated subclusters; du_B_per_sc = bytes on disk / allocated subclusters; check_problems = corruptions + leaks + check errors."
    help["w6"] = "Fair pairs: foreground = ours -f against qemu-storage-daemon started with & (both stopped by SIGTERM); daemonized = ours as users run it against qemu-storage-daemon --daemonize (both commands return once the export serves). mount_ms: command start → raw file served (daemonized: and the command returned); unmount_ms: `qcow2mount unmount DIR`, umount_ms: `umount DIR`, sigterm_ms: SIGTERM to the server, each → serving process gone (timed by a pidfd, to the microsecond; qemu: SIGTERM in every row, its only stop)."
    help["w7"] = "rss_mounted_MiB: VmHWM right after the mount; rss_peak_MiB: VmHWM after the fio job; iops and p99_us: that job (4 KiB random writes, QD16)."
    help["w3"] = "FUSE limit: our own FUSE loop serving a null disk (benchmarks/Qcow2Mount.FuseLimit, reads return zeros, writes are dropped), the kernel's FUSE round trip plus our protocol code; ours/limit: median of the per-round ratios."
    help["w9"] = "Each server with the kernel's enable_uring off (/dev/fuse reads and writes) and on (FUSE over io_uring), back to back per round. Limit: the FUSE limit of workload 3; ours: workload 3's fully allocated image. Ratios are medians of per-round ratios."
    nimpl = split("ours qemu ceiling", impls, " ")
}

NR == 1 { next }
{
    w = $1; c = $2; i = $3; r = $4; m = $5; v = $6
    if (!(w in wseen)) { wseen[w] = 1; ws[++nw] = w }
    if (!((w, c) in cseen)) { cseen[w, c] = 1; cs[w, ++nc[w]] = c }
    if (!((w, m) in mseen)) { mseen[w, m] = 1; ms[w, ++nm[w]] = m }
    if (i == "ceiling") hasceil[w] = 1
    if (i == "limit") haslimit[w] = 1
    if (i == "ours/limit") hasratio[w] = 1
    k = w SUBSEP c SUBSEP m SUBSEP i
    vals[k] = (k in vals) ? vals[k] " " v : v
    at[k, r] = v
    rounds[k] = (k in rounds) ? rounds[k] " " r : r
}

function fmt(x) {
    if (x == "") return "n/a"
    x += 0
    if (x >= 100 || x <= -100 || x == int(x)) return sprintf("%.0f", x)
    return sprintf("%.1f", x)
}

# pairedratio(w, c, m): median over rounds of ours/qemu.
function pairedratio(w, c, m,    ko, kq, a, n, j, list) {
    ko = w SUBSEP c SUBSEP m SUBSEP "ours"; kq = w SUBSEP c SUBSEP m SUBSEP "qemu"
    if (!(ko in rounds)) return "n/a"
    n = split(rounds[ko], a, " ")
    list = ""
    for (j = 1; j <= n; j++)
        if (((kq, a[j]) in at) && at[kq, a[j]] + 0 != 0)
            list = list (list == "" ? "" : " ") at[ko, a[j]] / at[kq, a[j]]
    return list == "" ? "n/a" : sprintf("%.2f", median(list))
}

function cell(w, c, m, i,    k) {
    k = w SUBSEP c SUBSEP m SUBSEP i
    if (i == "ours" && ours != "yes") return "n/a"
    return (k in vals) ? fmt(median(vals[k])) : "n/a"
}

# ratiocell(w, c, m, r): the median of the per-round ratio rows of impl r ("A/B").
function ratiocell(w, c, m, r,    k) {
    k = w SUBSEP c SUBSEP m SUBSEP r
    return (k in vals) ? sprintf("%.2f", median(vals[k])) : "n/a"
}

function has(w, c, m, i) { return (w SUBSEP c SUBSEP m SUBSEP i) in vals }

# Workload 9: each implementation on both transports, side by side.
function transports(w,    j, n, c, m) {
    print "| case | metric | limit /dev/fuse | limit io_uring | io_uring÷/dev/fuse | ours /dev/fuse | ours io_uring | io_uring÷/dev/fuse | ours/limit /dev/fuse | ours/limit io_uring |"
    print "|---|---|---|---|---|---|---|---|---|---|"
    for (j = 1; j <= nc[w]; j++) {
        c = cs[w, j]
        for (n = 1; n <= nm[w]; n++) {
            m = ms[w, n]
            if (!has(w, c, m, "limit-dev") && !has(w, c, m, "limit-uring") && !has(w, c, m, "ours-dev") && !has(w, c, m, "ours-uring")) continue
            print "| " c " | " m " | " cell(w, c, m, "limit-dev") " | " cell(w, c, m, "limit-uring") " | " ratiocell(w, c, m, "limit-uring/limit-dev") \
                " | " cell(w, c, m, "ours-dev") " | " cell(w, c, m, "ours-uring") " | " ratiocell(w, c, m, "ours-uring/ours-dev") \
                " | " ratiocell(w, c, m, "ours-dev/limit-dev") " | " ratiocell(w, c, m, "ours-uring/limit-uring") " |"
        }
    }
    print ""
}

# The on/off table: each case with extl2=on next to its extl2=off twin (IOPS medians); left out when a
# run measured only one of the two (--extl2 on or off).
function onoff(w,    j, c, twin, key, ro, rq, rows) {
    rows = ""
    for (j = 1; j <= nc[w]; j++) {
        c = cs[w, j]
        if (c !~ /extl2=on/) continue
        twin = c; sub(/extl2=on/, "extl2=off", twin)
        key = c; sub(/ extl2=on/, "", key)
        ro = ratio(w, c, twin, "ours"); rq = ratio(w, c, twin, "qemu")
        if (ro == "n/a" && rq == "n/a") continue
        rows = rows "| " key " | " ro " | " rq " |\n"
    }
    if (rows == "") return
    print "ext L2 on/off (IOPS ratio of medians; above 1 = extended L2 is faster):"
    print ""
    print "| case | ours on/off | qemu on/off |"
    print "|---|---|---|"
    printf "%s", rows
    print ""
}
function ratio(w, a, b, i,    ka, kb, x, y) {
    ka = w SUBSEP a SUBSEP "iops" SUBSEP i; kb = w SUBSEP b SUBSEP "iops" SUBSEP i
    if (!(ka in vals) || !(kb in vals)) return "n/a"
    x = median(vals[ka]); y = median(vals[kb])
    return y == 0 ? "n/a" : sprintf("%.2f", x / y)
}

# wkey W: the sort key of a workload name (w1 < w1e < w2 < … < w10 < w11).
function wkey(w) { return sprintf("%03d%s", substr(w, 2) + 0, w) }

END {
    # workloads in numeric order
    for (j = 2; j <= nw; j++) {
        t = ws[j]
        for (l = j - 1; l >= 1 && wkey(ws[l]) > wkey(t); l--) ws[l + 1] = ws[l]
        ws[l + 1] = t
    }
    for (x = 1; x <= nw; x++) {
        w = ws[x]
        print "## " (w in title ? title[w] : w)
        print ""
        if (w in help) { print help[w]; print "" }
        if (w == "w9") { transports(w); continue }
        head = "| case | metric | ours | qemu |"; rule = "|---|---|---|---|"
        if (w in hasceil) { head = head " ceiling |"; rule = rule "---|" }
        if (w in haslimit) { head = head " FUSE limit |"; rule = rule "---|" }
        head = head " ours/qemu |"; rule = rule "---|"
        if (w in hasratio) { head = head " ours/limit |"; rule = rule "---|" }
        print head
        print rule
        for (j = 1; j <= nc[w]; j++) {
            c = cs[w, j]
            for (n = 1; n <= nm[w]; n++) {
                m = ms[w, n]
                if (!has(w, c, m, "qemu") && !has(w, c, m, "ours") && !has(w, c, m, "ceiling") && !has(w, c, m, "limit")) continue
                line = "| " c " | " m " | " cell(w, c, m, "ours") " | " cell(w, c, m, "qemu") " |"
                if (w in hasceil) line = line " " cell(w, c, m, "ceiling") " |"
                if (w in haslimit) line = line " " cell(w, c, m, "limit") " |"
                # a count that is often 0 on one side (slow_windows) has no meaningful ratio
                line = line " " (m == "slow_windows" ? "n/a" : pairedratio(w, c, m)) " |"
                if (w in hasratio) line = line " " ratiocell(w, c, m, "ours/limit") " |"
                print line
            }
        }
        print """"
        if (w == "w1" || w == "w1e" || w == "w2") onoff(w)
    }
}
