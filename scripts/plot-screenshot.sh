#!/usr/bin/env bash
# The fws-plot window on a simulated scan (this daemon's HDF5 writer, the
# simulator's beam of sigma 1.7 mm, step 10 toggled off), opened under Xvfb
# with Mesa's software OpenGL and saved as a PNG.
#   scripts/plot-screenshot.sh [OUT.png] [--steps N]   # default: a temp file
#   scripts/plot-screenshot.sh --readme                 # docs/fws-plot.png
# Only --readme touches the tracked README image.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out=""
readme=0
steps=21
usage="usage: scripts/plot-screenshot.sh [OUT.png | --readme] [--steps N]"
while [ $# -gt 0 ]; do
  case "$1" in
    --readme) readme=1 ;;
    --steps)
      [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
      steps="$2"
      shift
      ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) echo "plot-screenshot: unknown option $1; $usage" >&2; exit 2 ;;
    *) out="$1" ;;
  esac
  shift
done
if [ "$readme" = 1 ]; then
  [ -z "$out" ] || { echo "plot-screenshot: give OUT.png or --readme, not both" >&2; exit 2; }
  out="$root/docs/fws-plot.png"
fi
out="${out:-${TMPDIR:-/tmp}/fws-plot-window.png}"
[ -d "$(dirname "$out")" ] || { echo "plot-screenshot: the folder $(dirname "$out") does not exist" >&2; exit 2; }
source "$here/env.sh"
"$here/install-deps.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
file="$(cargo run -q --manifest-path "$root/Cargo.toml" -p plot-cli --example simulated_scan -- "$work" "$steps")"
cargo build -q --manifest-path "$root/Cargo.toml" -p plot-cli --bin fws-plot
LIBGL_ALWAYS_SOFTWARE=1 xvfb-run -a -s "-screen 0 1920x1080x24" \
  "$CARGO_TARGET_DIR/debug/fws-plot" "$file" PDB --deselect 10 --screenshot "$out"
echo "wrote $out"
