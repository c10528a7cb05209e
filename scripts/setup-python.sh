#!/usr/bin/env bash
# The Python reference peers (numpy, scipy, h5py, and the published
# fws-daemon 3.3.1 whose functions the cross-checks call) in a venv under
# $FWS_VENV, then PyDM and PyQt5 for the operator-screen test. Each set has
# its own stamp and is reinstalled only when its requirements change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"

requirements="$here/requirements-reference.txt"
# The reference daemon itself, without its EPICS/plotting dependencies: the
# cross-checks import only its pure numeric and planning modules.
reference_pkg="fws-daemon==3.3.1"
stamp="$FWS_VENV/.fws-requirements"
want="$(cat "$requirements"; echo "$reference_pkg")"

if [ ! -x "$FWS_VENV/bin/python" ]; then
  python3 -m venv "$FWS_VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$FWS_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$FWS_VENV/bin/python" -m pip install --quiet -r "$requirements"
  "$FWS_VENV/bin/python" -m pip install --quiet --no-deps "$reference_pkg"
  printf '%s' "$want" > "$stamp"
fi

# PyDM for the operator-screen test, constrained by the reference pins.
screens="$here/requirements-screens.txt"
screens_stamp="$FWS_VENV/.fws-requirements-screens"
want_screens="$(cat "$screens" "$requirements")"
if [ ! -f "$screens_stamp" ] || [ "$(cat "$screens_stamp")" != "$want_screens" ]; then
  "$FWS_VENV/bin/python" -m pip install --quiet -r "$screens" -c "$requirements"
  printf '%s' "$want_screens" > "$screens_stamp"
fi

# watlowlib 0.8.1, the Watlow library labs run today, needs Python >= 3.13:
# its own venv, from pyenv's 3.13 (this machine image has one).
watlowlib_venv="${FWS_WATLOWLIB_VENV:-$HOME/.cache/fws-daemon/venv-watlowlib}"
watlowlib_pkg="watlowlib==0.8.1"
if [ ! -x "$watlowlib_venv/bin/python" ] || [ "$(cat "$watlowlib_venv/.fws-requirements" 2>/dev/null)" != "$watlowlib_pkg" ]; then
  py313=""
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3 "$(command -v python3.13 || true)"; do
    if [ -x "$candidate" ]; then py313="$candidate"; break; fi
  done
  if [ -z "$py313" ]; then
    echo "setup-python: watlowlib needs Python >= 3.13 and none was found (pyenv versions, python3.13);" >&2
    echo "setup-python: the watlowlib peer test will fail until one is installed" >&2
  else
    "$py313" -m venv "$watlowlib_venv"
    "$watlowlib_venv/bin/python" -m pip install --quiet --upgrade pip
    "$watlowlib_venv/bin/python" -m pip install --quiet "$watlowlib_pkg"
    printf '%s' "$watlowlib_pkg" > "$watlowlib_venv/.fws-requirements"
  fi
fi
