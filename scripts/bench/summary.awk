# The README's benchmark summary from the raw rows of one scripts/bench.sh run (workload, case, impl,
# round, metric, value; tab-separated, one header line): the headline rows of workloads 1–4 and one row
# per issue-18 target with its bar and whether this run met it. bench.sh writes it between the
# bench-summary markers of README.md after a full run; by hand:
#   awk -F'\t' -v stem=2026-12-07-vm -f scripts/bench/stats.awk -f scripts/bench/summary.awk benchmarks/results/2026-12-07-vm.tsv
# Variable: stem (the results' file name without extension, for the links). Every ratio is the median
# of per-round ratios (the runs of a round are paired in time); a row whose data the run lacks says so.

NR == 1 { next }
{
    k = $1 SUBSEP $2 SUBSEP $3 SUBSEP $5
    vals[k] = (k in vals) ? vals[k] " " $6 : $6
    at[k, $4] = $6
    if (!(($1, $4) in rseen)) { rseen[$1, $4] = 1; nr[$1]++; rs[$1, nr[$1]] = $4 }
    if (!(($1, $2) in cseen)) { cseen[$1, $2] = 1; nc[$1]++; cs[$1, nc[$1]] = $2 }
}

# med(w, c, i, m): median over rounds, "" when never measured.
function med(w, c, i, m) { return (w SUBSEP c SUBSEP i SUBSEP m) in vals ? median(vals[w, c, i, m]) : "" }

# ratio(w, c, m, a, b): median of the per-round a/b (a row of impl "a/b" when the run recorded one).
function ratio(w, c, m, a, b,    j, r, x, y, list) {
    if ((w SUBSEP c SUBSEP a "/" b SUBSEP m) in vals) return median(vals[w, c, a "/" b, m])
    list = ""
    for (j = 1; j <= nr[w]; j++) {
        r = rs[w, j]
        if (((w SUBSEP c SUBSEP a SUBSEP m), r) in at && ((w SUBSEP c SUBSEP b SUBSEP m), r) in at) {
            x = at[w SUBSEP c SUBSEP a SUBSEP m, r]; y = at[w SUBSEP c SUBSEP b SUBSEP m, r]
            if (y + 0 != 0) list = list (list == "" ? "" : " ") (x / y)
        }
    }
    return list == "" ? "" : median(list)
}

# n0: a whole number with thousands separators (mawk has no %'d).
function n0(v,    s, out) {
    if (v == "") return "n/a"
    s = sprintf("%.0f", v); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
}
function n1(v) { return v == "" ? "n/a" : sprintf("%.1f", v) }
function n2(v) { return v == "" ? "n/a" : sprintf("%.2f", v) }
function pair(a, b) { return a " / " b }
function verdict(ok, have) { return !have ? "not measured" : ok ? "**met**" : "missed" }

# One IOPS row of workloads 1–3: "QD1 / QD16" pairs of ours, QEMU, the limit, ours/QEMU, ours/limit.
function iops_row(label, w, c1, c16, m) {
    if (m == "") m = "iops"
    printf "| %s | %s | %s | %s | %s | %s |\n", label,
        pair(n0(med(w, c1, "ours", m)), n0(med(w, c16, "ours", m))),
        pair(n0(med(w, c1, "qemu", m)), n0(med(w, c16, "qemu", m))),
        pair(n0(med(w, c1, "limit", m)), n0(med(w, c16, "limit", m))),
        pair(n2(ratio(w, c1, m, "ours", "qemu")), n2(ratio(w, c16, m, "ours", "qemu"))),
        pair(n2(ratio(w, c1, m, "ours", "limit")), n2(ratio(w, c16, m, "ours", "limit")))
}

END {
    print "<!-- bench-summary: written by scripts/bench.sh from benchmarks/results/" stem ".tsv after a full run; edits here are overwritten -->"
    print ""
    print "Medians of the rounds, IOPS of 4 KiB random I/O (MiB/s for workload 4), QD1 / QD16; ours/QEMU and ours/limit are"
    print "medians of per-round ratios. Every number: [benchmarks/results/" stem ".md](benchmarks/results/" stem ".md)."
    print ""
    print "| workload | ours | QEMU | FUSE limit | ours/QEMU | ours/limit |"
    print "| --- | ---: | ---: | ---: | ---: | ---: |"
    iops_row("1. overlay on a full raw backing, 128k clusters, extended L2", "w1", "backing=raw cluster=128k extl2=on qd=1", "backing=raw cluster=128k extl2=on qd=16")
    iops_row("1. same, standard L2", "w1", "backing=raw cluster=128k extl2=off qd=1", "backing=raw cluster=128k extl2=off qd=16")
    iops_row("1. overlay on a full qcow2 backing, 128k clusters, extended L2", "w1", "backing=qcow2 cluster=128k extl2=on qd=1", "backing=qcow2 cluster=128k extl2=on qd=16")
    iops_row("1. overlay on a full raw backing, 2M clusters, standard L2", "w1", "backing=raw cluster=2M extl2=off qd=1", "backing=raw cluster=2M extl2=off qd=16")
    iops_row("2. overlay without backing, 128k clusters, extended L2", "w2", "backing=none cluster=128k extl2=on qd=1", "backing=none cluster=128k extl2=on qd=16")
    iops_row("3. fully allocated image, random read", "w3", "rw=randread qd=1", "rw=randread qd=16")
    iops_row("3. fully allocated image, random write", "w3", "rw=randwrite qd=1", "rw=randwrite qd=16")
    printf "| 4. 1 MiB sequential read / write, QD16, MiB/s | %s | %s | | %s | |\n",
        pair(n0(med("w4", "rw=read bs=1M qd=16", "ours", "MiBps")), n0(med("w4", "rw=write bs=1M qd=16", "ours", "MiBps"))),
        pair(n0(med("w4", "rw=read bs=1M qd=16", "qemu", "MiBps")), n0(med("w4", "rw=write bs=1M qd=16", "qemu", "MiBps"))),
        pair(n2(ratio("w4", "rw=read bs=1M qd=16", "MiBps", "ours", "qemu")), n2(ratio("w4", "rw=write bs=1M qd=16", "MiBps", "ours", "qemu")))
    print ""
    targets()
}

function targets(    c, j, q, lo1, hi1, lo16, hi16, v, have, worst99, worst999, w99c, w999c, slow, slowc, lim, qsd, w, m, a, b, d, ok, t, line) {
    print "Issue 18's targets, read off this run:"
    print ""
    print "| target | this run | bar | |"
    print "| --- | --- | --- | --- |"

    printf "| 1. the FUSE limit in the bench | QD1 / QD16 random read %s IOPS, write %s | a column of workloads 1, 3, 9, 12 | %s |\n",
        pair(n0(med("w3", "rw=randread qd=1", "limit", "iops")), n0(med("w3", "rw=randread qd=16", "limit", "iops"))),
        pair(n0(med("w3", "rw=randwrite qd=1", "limit", "iops")), n0(med("w3", "rw=randwrite qd=16", "limit", "iops"))),
        verdict(1, med("w3", "rw=randread qd=1", "limit", "iops") != "")

    # 2: ours/limit of extended-L2 overlays over the raw backing file, 64k–512k, each queue depth's worst and best.
    lo1 = lo16 = 9e9; hi1 = hi16 = -1; have = 0
    split("64k 128k 512k", cl, " ")
    for (j = 1; j <= 3; j++) {
        v = ratio("w1", "backing=raw cluster=" cl[j] " extl2=on qd=1", "iops", "ours", "limit")
        if (v != "") { have++; if (v < lo1) lo1 = v; if (v > hi1) hi1 = v }
        v = ratio("w1", "backing=raw cluster=" cl[j] " extl2=on qd=16", "iops", "ours", "limit")
        if (v != "") { have++; if (v < lo16) lo16 = v; if (v > hi16) hi16 = v }
    }
    printf "| 2. allocation at the limit | ours/limit, extended-L2 overlays over a raw backing file, 64k–512k: QD1 %s–%s, QD16 %s–%s | ≥ 0.90 at QD1, ≥ 0.80 at QD16 | %s |\n",
        have ? n2(lo1) : "n/a", have ? n2(hi1) : "n/a", have ? n2(lo16) : "n/a", have ? n2(hi16) : "n/a",
        verdict(have == 6 && lo1 >= 0.90 && lo16 >= 0.80, have == 6)

    # 3: the worst p99 and p99.9 ratio ours/QEMU over every QD16 case of workloads 1–3 and 13, and ours' slowest request.
    worst99 = worst999 = -1; slow = -1
    split("w1 w2 w3 w13", tw, " ")
    for (q = 1; q <= 4; q++) {
        w = tw[q]
        for (j = 1; j <= nc[w]; j++) {
            c = cs[w, j]
            if (c ~ /qd=16/) {
                v = ratio(w, c, "p99_us", "ours", "qemu"); if (v != "" && v > worst99) { worst99 = v; w99c = w " " c }
                v = ratio(w, c, "p999_us", "ours", "qemu"); if (v != "" && v > worst999) { worst999 = v; w999c = w " " c }
            }
            v = med(w, c, "ours", "max_us"); if (v != "" && v > slow) { slow = v; slowc = w " " c }
        }
    }
    # The slowest request is the target's own measure where workload 13 ran (one minute per job), with the FUSE
    # limit's and QEMU's slowest beside it; otherwise the five-second jobs' worst case.
    if (nc["w13"] > 0 && med("w13", cs["w13", 1], "ours", "max_us") != "") {
        c = cs["w13", 1]; slow = med("w13", c, "ours", "max_us")
        lim = med("w13", c, "limit", "max_us"); qsd = med("w13", c, "qemu", "max_us"); host = med("w13", c, "ceiling", "max_us")
        slowc = "workload 13, " c "; FUSE limit " (lim == "" ? "n/a" : n1(lim / 1000) " ms") ", QEMU " (qsd == "" ? "n/a" : n1(qsd / 1000) " ms") \
            (host == "" ? "" : ", the host file system alone at ours' rate " n1(host / 1000) " ms")
    }
    printf "| 3. tails no worse than QEMU's | worst ours/QEMU at QD16: p99 %s (%s), p99.9 %s (%s); slowest request of ours %s ms (%s) | ≤ 1, ≤ 1, ≤ 20 ms | %s |\n",
        worst99 < 0 ? "n/a" : n2(worst99), w99c, worst999 < 0 ? "n/a" : n2(worst999), w999c, slow < 0 ? "n/a" : n1(slow / 1000), slowc,
        verdict(worst99 >= 0 && worst99 <= 1 && worst999 <= 1 && slow <= 20000, worst99 >= 0 && worst999 >= 0 && slow >= 0)

    # 4: peak RSS, each further image, mount and stop latency in fair pairs.
    c = "1 TiB, cluster=64k, randwrite 4k qd=16"
    a = med("w7", c, "ours", "rss_peak_MiB"); b = med("w7", c, "qemu", "rss_peak_MiB")
    fg = "overlay on qcow2 backing, foreground (ours -f, qsd &)"; bg = "overlay on qcow2 backing, daemonized (ours, qsd --daemonize)"
    m1 = med("w10", "images=1, 1 TiB each", "ours", "rss_mounted_MiB"); m100 = med("w10", "images=100, 1 TiB each", "ours", "rss_mounted_MiB")
    have = a != "" && b != "" && med("w6", fg, "ours", "mount_ms") != "" && med("w6", bg, "ours", "mount_ms") != ""
    ok = have && a <= b && med("w6", fg, "ours", "mount_ms") <= med("w6", fg, "qemu", "mount_ms") && med("w6", bg, "ours", "mount_ms") <= med("w6", bg, "qemu", "mount_ms") \
        && med("w6", fg, "ours", "unmount_ms") <= med("w6", fg, "qemu", "unmount_ms") && med("w6", bg, "ours", "sigterm_ms") <= med("w6", bg, "qemu", "sigterm_ms")
    printf "| 4. lighter than QEMU | peak RSS %s MiB (QEMU %s); each further image %s MiB; mount foreground %s ms (QEMU %s), daemonized %s ms (QEMU %s); stop by SIGTERM foreground %s ms (QEMU %s), daemonized %s ms (QEMU %s); `umount` %s ms, `qcow2mount unmount` %s ms | RSS, mount and stop ≤ QEMU's; ≤ 2 MiB per image | %s |\n",
        n1(a), n1(b), (m1 != "" && m100 != "") ? n2((m100 - m1) / 99) : "n/a",
        n1(med("w6", fg, "ours", "mount_ms")), n1(med("w6", fg, "qemu", "mount_ms")), n1(med("w6", bg, "ours", "mount_ms")), n1(med("w6", bg, "qemu", "mount_ms")),
        n1(med("w6", fg, "ours", "unmount_ms")), n1(med("w6", fg, "qemu", "unmount_ms")), n1(med("w6", bg, "ours", "sigterm_ms")), n1(med("w6", bg, "qemu", "sigterm_ms")),
        n1(med("w6", bg, "ours", "umount_ms")), n1(med("w6", bg, "ours", "unmount_ms")),
        verdict(ok && (m1 == "" || m100 == "" || (m100 - m1) / 99 <= 2), have)

    # 5: ours at 64 TiB against 1 GiB (sparse): mount, RSS after the mount, the first read; check and convert of the same data.
    have = med("w10", "size=1G", "ours", "mount_ms") != "" && med("w10", "size=64T", "ours", "mount_ms") != ""
    ok = have
    line = ""
    split("mount_ms rss_mounted_MiB first_read_us", fm, " ")
    for (j = 1; j <= 3; j++) {
        a = med("w10", "size=1G", "ours", fm[j]); b = med("w10", "size=64T", "ours", fm[j])
        line = line (j > 1 ? ", " : "") fm[j] " " n1(a) " → " n1(b)
        if (a == "" || b == "" || b > 1.5 * a + (fm[j] == "rss_mounted_MiB" ? 1 : 0)) ok = 0
    }
    split("check_ms convert_ms", fc, " ")
    for (j = 1; j <= 2; j++) {
        a = med("w10", "size=1G, 64 MiB data", "ours", fc[j]); b = med("w10", "size=64T, 64 MiB data", "ours", fc[j])
        line = line ", " fc[j] " " n1(a) " → " n1(b)
        if (a == "" || b == "" || b > 1.5 * a + 50) ok = 0
    }
    printf "| 5. flat as images grow | ours, sparse 1 GiB → 64 TiB: %s | each within 1.5× (RSS + 1 MiB, check/convert + 50 ms) | %s |\n", line, verdict(ok, have)

    # 6: fsync after each write, and the flush of 1 GiB of dirty L2 tables.
    a = ratio("w12", "fsync=1 backing=raw cluster=128k extl2=on qd=1", "iops", "ours", "qemu")
    b = ratio("w12", "fsync=1 backing=raw cluster=64k extl2=off qd=1", "iops", "ours", "qemu")
    c = ratio("w12", "fsync=1 backing=raw cluster=128k extl2=on qd=1 jobs=4", "iops", "ours", "qemu")
    r = ratio("w12", "fsync=1 backing=raw cluster=128k extl2=on qd=1 with a reader", "reader_iops", "ours", "qemu")
    d = "8 TiB, cluster=64k, 16384 L2 tables dirty, L2 cache 1 GiB"
    printf "| 6. durability no dearer than QEMU's | fsync=1 IOPS ours/QEMU %s (128k extended L2) and %s (64k standard)%s; 1 GiB dirty cache: flush at close %s ms (QEMU %s), unmount after it %s ms (QEMU %s) | ≥ 1; flush bounded and reported | %s |\n",
        n2(a), n2(b), (c == "" ? "" : ", " n2(c) " with four writers at once") (r == "" ? "" : ", a reader beside one at " n2(r) "× QEMU's IOPS"), n0(med("w12", d, "ours", "flush_ms")), n0(med("w12", d, "qemu", "flush_ms")), n0(med("w12", d, "ours", "unmount_ms")), n0(med("w12", d, "qemu", "unmount_ms")),
        verdict(a >= 1 && b >= 1 && (c == "" || c >= 1) && med("w12", d, "ours", "flush_ms") != "", a != "" && b != "")

    # 7: convert -c, QEMU's seconds over ours, and the output sizes.
    have = 1; ok = 1; line = ""
    split("zlib zstd", ct, " ")
    for (j = 1; j <= 2; j++) {
        c = "compression_type=" ct[j]
        t = ratio("w11", c, "seconds", "qemu", "ours"); v = ratio("w11", c, "size_MiB", "ours", "qemu")
        line = line (j > 1 ? "; " : "") ct[j] " " n1(med("w11", c, "ours", "seconds")) " s vs " n1(med("w11", c, "qemu", "seconds")) " s (" n2(t) "x), size " n2(v)
        if (t == "" || v == "") have = 0
        else if (t < 1.5 || v > 1.02 || v < 0.98) ok = 0
    }
    printf "| 7. compressed conversion | %s | ≥ 1.5x faster than qemu-img -m 8 -W, size within 2 %% | %s |\n", line, verdict(ok, have)

    # 8: FUSE over io_uring against /dev/fuse.
    a = ratio("w9", "rw=randread qd=1", "iops", "ours-uring", "ours-dev"); b = ratio("w9", "rw=randread qd=1", "iops", "limit-uring", "limit-dev")
    printf "| 8. FUSE over io_uring | 4 KiB random read QD1, io_uring ÷ /dev/fuse: ours %s, the limit %s | measured; served when the kernel offers it | %s |\n",
        n2(a), n2(b), verdict(1, a != "")
}
