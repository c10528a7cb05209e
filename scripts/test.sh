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
# Every test binary runs, whatever fails first: the closing line must count
# all of them.
cargo test --manifest-path "$root/Cargo.toml" --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one result per
# binary; a binary that crashed prints none).
total() { grep '^test result:' "$log" | grep -Eo "[0-9]+ $1" | awk '{s += $1} END {print s + 0}'; }
binaries=$(grep -cE '^ +(Running|Doc-tests) ' "$log" || true)
results=$(grep -c '^test result:' "$log" || true)
failing=$(grep -E '^ +`-p [^`]+`$' "$log" | tr -d '`' | sed 's/^ *//' | paste -sd ';' - || true)
line="tests: $(total passed) passed, $(total failed) failed, $(total ignored) ignored in $binaries test binaries"
[ "$results" -lt "$binaries" ] && line="$line, $((binaries - results)) ended without a result (crashed)"
[ -n "$failing" ] && line="$line; failing: $failing"
[ "$status" -ne 0 ] && [ -z "$failing" ] && [ "$results" -ge "$binaries" ] && line="$line; cargo failed (see above: a build error?)"
echo "$line"
exit "$status"
