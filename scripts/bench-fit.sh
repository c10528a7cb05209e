#!/usr/bin/env bash
# Speed of our Gaussian fit against scipy's curve_fit with the reference
# daemon's settings, on the same data in the same run; then the criterion
# benches. Prints ratios; asserts nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
source "$here/env.sh"
"$here/setup-python.sh"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p fitting --bin fws-fit
"$FWS_VENV/bin/python" "$here/reference/bench_fit_vs_scipy.py" "$CARGO_TARGET_DIR/release/fws-fit" "$@"
if [ "${FWS_BENCH_CRITERION:-1}" = 1 ]; then
  cargo bench --manifest-path "$root/Cargo.toml" -p fitting --bench gaussian_fit
fi
