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
