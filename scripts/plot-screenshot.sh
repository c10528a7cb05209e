#!/usr/bin/env bash
# The README's fws-plot screenshot (docs/fws-plot.png): a simulated 21-step
# scan (this daemon's HDF5 writer, the simulator's beam of sigma 1.7 mm) in
# the window under Xvfb with Mesa's software OpenGL, step 10 toggled off.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$here/env.sh"
"$here/install-deps.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
file="$(cargo run -q --manifest-path "$root/Cargo.toml" -p plot-cli --example simulated_scan -- "$work")"
cargo build -q --manifest-path "$root/Cargo.toml" -p plot-cli --bin fws-plot
LIBGL_ALWAYS_SOFTWARE=1 xvfb-run -a -s "-screen 0 1920x1080x24" \
  "$CARGO_TARGET_DIR/debug/fws-plot" "$file" PDB --deselect 10 \
  --screenshot "$root/docs/fws-plot.png"
echo "wrote docs/fws-plot.png"
