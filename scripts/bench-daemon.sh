#!/usr/bin/env bash
# Dead time per step and trigger latency of the release daemon against the
# simulator (benches/dead_time.rs), then its memory over 1000 sequences
# (benches/soak.rs). Prints numbers; asserts nothing.
# Optional argument: a scenario name part ("tiny" or "payload").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$here/env.sh"
"$here/install-deps.sh"
cargo bench --quiet --manifest-path "$root/Cargo.toml" -p daemon --bench dead_time -- "$@"
# Memory, descriptors and threads over 1000 sequences (issue 11, A14).
cargo bench --quiet --manifest-path "$root/Cargo.toml" -p daemon --bench soak
