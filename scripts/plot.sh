#!/usr/bin/env bash
# fws-plot on a scan file: builds it (release, only when out of date) and
# runs it with the arguments, e.g.
#   scripts/plot.sh ~/fws-data/FWS01_....h5 PDB --save profile.png
#   scripts/plot.sh scan.h5 PDB                  # the window (needs a display)
#   xvfb-run -a scripts/plot.sh scan.h5 PDB --screenshot /tmp/window.png
# Exit codes are fws-plot's (0 done, 1 the file or result fails, 2 bad
# arguments); a failed build exits with cargo's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
if [ $# -lt 2 ] && [[ "${1:-}" != -* ]]; then
  echo "usage: scripts/plot.sh FILE CHANNEL [fws-plot options] (scripts/plot.sh --help lists them)" >&2
  exit 2
fi
source "$here/env.sh"
"$here/install-deps.sh"
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p plot-cli --bin fws-plot
exec "$CARGO_TARGET_DIR/release/fws-plot" "$@"
