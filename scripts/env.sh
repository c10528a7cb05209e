# Shared settings for the project's scripts (sourced, not run).
# Build caches and the Python venv live outside the clone, so that a fresh
# clone reuses them and CI stays fast.
export FWS_CACHE="${FWS_CACHE:-$HOME/.cache/fws-daemon}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FWS_CACHE/target}"
export FWS_VENV="${FWS_VENV:-$FWS_CACHE/venv}"
export FWS_REFERENCE_FIXTURES="${FWS_REFERENCE_FIXTURES:-$FWS_CACHE/fixtures}"
if [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
