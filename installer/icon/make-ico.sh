#!/usr/bin/env bash
# Regenerates qcow2mount.ico from qcow2mount.svg: 16, 24, 32 and 48 px as 32-bit BMP entries, 256 px as a PNG entry
# (the layout Windows expects). Needs rsvg-convert and icotool: apt-get install librsvg2-bin icoutils.
# The output is byte-for-byte reproducible; the committed .ico is what the MSI and the .deb ship.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for size in 16 24 32 48 256; do
  rsvg-convert --width "$size" --height "$size" qcow2mount.svg --output "$work/$size.png"
done
icotool --create --output qcow2mount.ico "$work"/{16,24,32,48}.png --raw="$work/256.png"
