#!/usr/bin/env bash
# Coverage-guided fuzzing with afl-fuzz and SharpFuzz (needs: apt-get install afl++;
# dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path DIR, with DIR on PATH).
#   fuzz/afl.sh [--seconds 600] [--out /tmp/q2m-afl]
# Crashes land in OUT/default/crashes/; check them with
#   dotnet OUT-build/Qcow2Mount.Fuzz.dll repro FILE...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds=600 out=/tmp/q2m-afl
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "afl.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v afl-fuzz >/dev/null || { echo "afl.sh: afl-fuzz not found (apt-get install afl++)" >&2; exit 2; }
command -v sharpfuzz >/dev/null || { echo "afl.sh: sharpfuzz not found (dotnet tool install SharpFuzz.CommandLine)" >&2; exit 2; }
build="$out-build"
rm -rf "$build"
dotnet publish -c Release -v q --nologo "$here/Qcow2Mount.Fuzz" -o "$build" >/dev/null
sharpfuzz "$build/Qcow2Mount.Core.dll"
AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
  afl-fuzz -i "$here/seeds" -o "$out" -t 10000 -m none -V "$seconds" -- dotnet "$build/Qcow2Mount.Fuzz.dll" afl
grep -E "run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs" "$out/default/fuzzer_stats"
