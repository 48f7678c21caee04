#!/usr/bin/env bash
# readme_summary.sh TSV [README]: writes the summary of a full scripts/bench.sh run (summary.awk over its raw
# rows, with the run's environment from the .md beside them) between the bench-summary markers of README
# (default: the repository's README.md). scripts/bench.sh calls it after every full run.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TSV=${1:?usage: readme_summary.sh TSV [README]}
README=${2:-$HERE/../../README.md}
MD=${TSV%.tsv}.md
STEM=$(basename "${TSV%.tsv}")
BEGIN='<!-- bench-summary:begin -->' END='<!-- bench-summary:end -->'
if ! grep -qF "$BEGIN" "$README" || ! grep -qF "$END" "$README"; then
    echo "readme_summary: $README has no $BEGIN … $END block" >&2
    exit 1
fi

# env VALUE-OF-ROW: a row of the run's environment table ("| fio | fio-3.33, … |").
env_row() { awk -F' \\| ' -v k="| $1" '$1 == k { sub(/ \|$/, "", $2); print $2; exit }' "$MD" 2>/dev/null; }

block=$(mktemp)
trap 'rm -f "$block"' EXIT
{
    echo "$BEGIN"
    printf 'Latest full run: %s, %s; %s; %s; load %s.\n' "$(env_row date)" "$(env_row host)" "$(env_row mode)" \
        "commit $(env_row commit | cut -d' ' -f1)" "$(env_row 'load (1/5/15 min)' | sed 's/ (2 cores.*//')"
    echo
    awk -F'\t' -v stem="$STEM" -f "$HERE/stats.awk" -f "$HERE/summary.awk" "$TSV"
    if [[ -f ${TSV%.tsv}.png ]]; then
        printf '\n![IOPS per cluster size, ours vs QEMU and the FUSE limit, extended L2 on/off](benchmarks/results/%s.png)\n' "$STEM"
    fi
    echo
    echo "$END"
} >"$block"
awk -v begin="$BEGIN" -v end="$END" -v file="$block" '
    $0 == begin { while ((getline line < file) > 0) print line; skip = 1; next }
    $0 == end { skip = 0; next }
    !skip' "$README" >"$README.tmp"
mv "$README.tmp" "$README"
