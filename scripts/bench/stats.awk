# Shared by report.awk and summary.awk (loaded first with -f): the statistics of a run's rows.

# median(list): the median of the space-separated numbers in list ("" when there are none).
function median(list,    a, n, j, l, t) {
    n = split(list, a, " ")
    for (j = 2; j <= n; j++) {
        t = a[j] + 0
        for (l = j - 1; l >= 1 && a[l] + 0 > t; l--) a[l + 1] = a[l]
        a[l + 1] = t
    }
    if (n == 0) return ""
    return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
