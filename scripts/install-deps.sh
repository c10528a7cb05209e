#!/usr/bin/env bash
# System packages the build and the reference peers need, installed only
# when missing (Debian). Needs root or sudo only when something is missing.
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# libhdf5 for the HDF5 writer (hdf5-metno links the system library).
pkg-config --exists hdf5 2>/dev/null || [ -e /usr/include/hdf5/serial/hdf5.h ] || need+=(libhdf5-dev)
# The network test runs the daemon in a private network namespace (unshare
# and nsenter from util-linux, ip from iproute2).
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
# fws-plot's window test: Xvfb and Mesa's software OpenGL, and the X11
# libraries winit loads at run time.
command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb xauth)
for pkg in libgl1-mesa-dri libgl1 libegl1 libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# The operator-screen test: PyQt5's wheel bundles Qt but not the X11/xcb
# libraries its xcb platform plugin loads, nor fontconfig and a font.
for pkg in libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
  libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libfontconfig1 \
  libfreetype6 libdbus-1-3 libglib2.0-0 fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# The systemd unit's tests: systemd-analyze verify/security/syscall-filter
# offline, and strace for the system calls the daemon makes (and to kill
# the HDF5 writer at each of its writes, callbacks/tests/killed_writer.rs).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v strace >/dev/null 2>&1 || need+=(strace)
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  need+=(python3-venv)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "install-deps: no Rust toolchain (cargo) found; install one with rustup" >&2
  exit 1
fi
