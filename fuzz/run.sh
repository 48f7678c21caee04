#!/usr/bin/env bash
# Bounded, deterministic fuzzing for CI: seeded mutations of fuzz/seeds/*.qcow2 through open + read + write +
# zero + discard + block status + flush of an in-memory image, then a read-only open that must never write.
# Prints executions run and crashes found; exits 1 if any crash (saved under fuzz/findings/), 3 on a hang.
#   fuzz/run.sh [--seconds 120] [--seed 1] [--findings DIR] [--seeds DIR] [--executions N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dotnet build -c Release -v q --nologo "$here/Qcow2Mount.Fuzz/Qcow2Mount.Fuzz.csproj" >/dev/null
exec dotnet "$here/Qcow2Mount.Fuzz/bin/Release/net10.0/Qcow2Mount.Fuzz.dll" run "$@"
