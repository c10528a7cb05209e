#!/usr/bin/env bash
# Every test: installs what is missing, regenerates the reference answers
# with scipy and the published fws-daemon 3.3.1, then runs the workspace's
# tests (unit, property, cross-check).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$here/env.sh"
"$here/install-deps.sh"
"$here/setup-python.sh"
"$FWS_VENV/bin/python" "$here/reference/make_fixtures.py" "$FWS_REFERENCE_FIXTURES"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --manifest-path "$root/Cargo.toml" --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per binary).
total() { grep '^test result:' "$log" | grep -Eo "[0-9]+ $1" | awk '{s += $1} END {print s + 0}'; }
echo "tests: $(total passed) passed, $(total failed) failed"
exit "$status"
