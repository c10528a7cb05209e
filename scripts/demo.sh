#!/usr/bin/env bash
# The main job: fws-daemon for scanner 1 in test mode with its built-in
# simulator, on loopback, writing under ~/fws-data. Extra arguments go to the
# daemon (e.g. --sim-config sim.yaml). Stop it with Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$here/env.sh"
"$here/install-deps.sh"
data="${FWS_DATA_ROOT:-$HOME/fws-data}"
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p daemon -p sim
echo "fws-daemon: PVs Test:SCAN:DMN-*, files under $data (drive it with caput or pyepics; see README)"
exec "$CARGO_TARGET_DIR/release/fws-daemon" 1 --test-mode --data-root "$data" \
  --log-dir "$FWS_CACHE/log/fws-01" "$@"
