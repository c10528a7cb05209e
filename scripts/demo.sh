#!/usr/bin/env bash
# The main job until the daemon exists: plan a scan from operator inputs,
# sample a simulated beam at the planned positions, fit its profile.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$here/env.sh"
"$here/install-deps.sh"
cargo run --quiet --release --manifest-path "$root/Cargo.toml" -p planner --example scan_demo -- "$@"
