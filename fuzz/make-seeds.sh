#!/usr/bin/env bash
# Regenerates the fuzzing seed corpus (fuzz/seeds/*.qcow2) with qemu-img / qemu-io: small, backing-less images
# covering standard and extended L2, compressed clusters (deflate and zstd), internal snapshots, zero clusters,
# version 2, tiny clusters and narrow/wide refcounts. The seeds are committed; run this only to change them.
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/seeds"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
rm -f "$out"/*.qcow2

# A raw source with a compressible pattern, some random data and holes.
raw="$tmp/src.raw"
truncate -s 1M "$raw"
printf 'qcow2mount seed %.0s' $(seq 1 400) | dd of="$raw" conv=notrunc status=none
head -c 20000 /dev/urandom | dd of="$raw" bs=1 seek=300000 conv=notrunc status=none

make() { # name options... (image made from the raw source, then qemu-io commands)
  local name="$1" opts="$2"; shift 2
  qemu-img create -q -f qcow2 -o "$opts" "$out/$name.qcow2" 1M
  for cmd in "$@"; do qemu-io -f qcow2 -c "$cmd" "$out/$name.qcow2" >/dev/null; done
}

make std-4k        cluster_size=4096                      "write -P 0x11 0 6000" "write -z 65536 8192" "write -P 0x22 500000 3000"
make ext-l2-16k    cluster_size=16384,extended_l2=on      "write -P 0x33 1024 1024" "write -z 40000 2048" "write -P 0x44 100000 50000" "discard 196608 16384"
make v2-8k         compat=0.10,cluster_size=8192          "write -P 0x55 0 20000" "write -P 0x66 700000 100"
make tiny-512-rc1  cluster_size=512,refcount_bits=1       "write -P 0x77 0 3000" "write -z 8192 1024"
make rc64-4k       cluster_size=4096,refcount_bits=64     "write -P 0x88 4096 12288"
make lazy-8k       cluster_size=8192,lazy_refcounts=on    "write -P 0x99 0 8192"
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4096 "$raw" "$out/compressed-deflate-4k.qcow2"
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=16384,extended_l2=on,compression_type=zstd "$raw" "$out/compressed-zstd-ext-l2-16k.qcow2"
make snapshot-4k   cluster_size=4096                      "write -P 0xaa 0 10000"
qemu-img snapshot -c first "$out/snapshot-4k.qcow2"
qemu-io -f qcow2 -c "write -P 0xbb 4096 4096" "$out/snapshot-4k.qcow2" >/dev/null
qemu-img snapshot -c second "$out/snapshot-4k.qcow2"
make bitmap-8k     cluster_size=8192                      "write -P 0xcc 0 70000"
qemu-img bitmap --add "$out/bitmap-8k.qcow2" b0
qemu-io -f qcow2 -c "write -P 0xdd 131072 4096" "$out/bitmap-8k.qcow2" >/dev/null

for f in "$out"/*.qcow2; do qemu-img check -q "$f"; done
ls -l "$out"
