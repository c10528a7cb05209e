#!/usr/bin/env bash
# Recording Watlow controllers, ours against watlowlib 0.8.1, side by side
# on the same simulated PMs (sim/benches/watlow_record.rs): 1, 4 and 8
# devices on 2 ptys at 10, 50 and 100 Hz. FWS_WATLOW_BENCH_SECONDS (default
# 30) per case. Needs the watlowlib venv (scripts/setup-python.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
"$here/setup-python.sh"
cargo bench --manifest-path "$here/../Cargo.toml" -p sim --bench watlow_record
