#!/usr/bin/env bash
# Installs fws-daemon on this host (docs/deploy.md, "Install"):
#   scripts/install.sh [PREFIX]          PREFIX defaults to /usr/local
# - builds the release binaries and installs fws-daemon, fws-plot, fws-sim
#   in PREFIX/bin, the systemd unit, and the site kit (IOC database, IOC
#   files, operator screens, examples, docs) in PREFIX/share;
# - creates the system user `fws` (no login shell) when missing;
# - creates the data root /var/lib/fws-daemon and the log folder
#   /var/log/fws-daemon, owned by fws, when missing (existing ones are left
#   as the site set them);
# - installs /etc/fws-daemon/station.yaml and /etc/fws-daemon/environment
#   from the examples only when they do not exist: a site's file is never
#   overwritten.
# Running it again changes only what an upgrade brings (binaries, unit,
# kit); files whose content is the same are not touched.
#
# Environment:
#   FWS_INSTALL_ROOT=DIR     stage everything under DIR instead of / (as
#                            DESTDIR; the user goes into DIR/etc/passwd).
#                            Paths inside the files stay the final ones.
#   FWS_INSTALL_BIN_DIR=DIR  install the binaries found in DIR instead of
#                            building them (the install test uses the
#                            ones cargo built for it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
prefix="${1:-/usr/local}"
prefix="${prefix%/}"
root="${FWS_INSTALL_ROOT:-}"
root="${root%/}"
case "$prefix" in
  /*) ;;
  *) echo "install: PREFIX must be an absolute path (got $prefix)" >&2; exit 2 ;;
esac

user=fws
data_root=/var/lib/fws-daemon
log_root=/var/log/fws-daemon
etc=/etc/fws-daemon
# systemd looks for vendor units under /usr and /usr/local; any other
# prefix gets its unit in /etc/systemd/system.
case "$prefix" in
  /usr | /usr/local) unit_dir="$prefix/lib/systemd/system" ;;
  *) unit_dir=/etc/systemd/system ;;
esac

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (or stage with FWS_INSTALL_ROOT=DIR)" >&2
  exit 1
fi
as_root=false
[ "$(id -u)" -eq 0 ] && as_root=true

say() { echo "install: $*"; }

# 1. The binaries.
bin_dir="${FWS_INSTALL_BIN_DIR:-}"
if [ -z "$bin_dir" ]; then
  # shellcheck disable=SC1091
  source "$here/env.sh"
  "$here/install-deps.sh"
  manifest=(--manifest-path "$repo/Cargo.toml")
  cargo build --release --quiet "${manifest[@]}" -p plot-cli
  cargo build --release --quiet "${manifest[@]}" -p daemon --bin fws-sim
  # Last, and without the built-in simulator: the site's daemon links none
  # (--test-mode then runs against fws-sim with --no-sim).
  cargo build --release --quiet "${manifest[@]}" -p daemon --bin fws-daemon --no-default-features
  bin_dir="$CARGO_TARGET_DIR/release"
fi
for exe in fws-daemon fws-plot fws-sim; do
  [ -x "$bin_dir/$exe" ] || { echo "install: $bin_dir/$exe is missing" >&2; exit 1; }
done

# `install -C` leaves a destination whose content, mode and owner already
# match untouched (same mtime): a second run is a no-op for it.
owner_args=()
$as_root && owner_args=(-o 0 -g 0)
put() { # MODE SOURCE DEST
  # A symlinked source (a bin folder of links) is installed as its file.
  install -C -D -m "$1" "${owner_args[@]}" "$(readlink -f "$2")" "$root$3"
}

for exe in fws-daemon fws-plot fws-sim; do
  put 0755 "$bin_dir/$exe" "$prefix/bin/$exe"
done
say "binaries in $prefix/bin"

# 2. The systemd unit, pointing at this prefix's binary and docs.
unit="$(mktemp)"
trap 'rm -f "$unit"' EXIT
sed -e "s|/usr/local/bin/fws-daemon|$prefix/bin/fws-daemon|" \
  -e "s|/usr/local/share/doc/fws-daemon|$prefix/share/doc/fws-daemon|" \
  "$repo/deploy/systemd/fws-daemon@.service" > "$unit"
put 0644 "$unit" "$unit_dir/fws-daemon@.service"
say "unit $unit_dir/fws-daemon@.service"

# 3. The site kit and the docs.
share="$prefix/share/fws-daemon"
put 0644 "$repo/deploy/db/fws_daemon.db" "$share/db/fws_daemon.db"
for f in st.cmd fws_daemon.req fws_daemon.acf; do
  put 0644 "$repo/deploy/ioc/$f" "$share/ioc/$f"
done
for f in fws_daemon.ui fws_daemon.bob; do
  put 0644 "$repo/deploy/screens/$f" "$share/screens/$f"
done
put 0644 "$repo/deploy/station.example.yaml" "$share/station.example.yaml"
put 0644 "$repo/deploy/environment.example" "$share/environment.example"
put 0755 "$repo/deploy/examples/step_summary" "$share/examples/step_summary"
put 0644 "$repo/deploy/examples/reference_style_callback.py" \
  "$share/examples/reference_style_callback.py"
put 0644 "$repo/docs/deploy.md" "$prefix/share/doc/fws-daemon/deploy.md"
put 0644 "$repo/README.md" "$prefix/share/doc/fws-daemon/README.md"
say "site kit in $share, docs in $prefix/share/doc/fws-daemon"

# 4. The service user: a system user and group, no login shell, the data
# root as its home (not created by useradd: step 5 does it).
passwd_of() { # NAME -> its passwd line, from the staging root or the host
  if [ -n "$root" ]; then
    grep "^$1:" "$root/etc/passwd" 2>/dev/null || true
  else
    getent passwd "$1" || true
  fi
}
if [ -z "$(passwd_of "$user")" ] && [ -n "$root" ] && ! $as_root; then
  say "not root: user $user not created in the staging root (useradd needs root)"
elif [ -z "$(passwd_of "$user")" ]; then
  useradd_args=(--system --user-group --no-create-home --home-dir "$data_root"
    --shell /usr/sbin/nologin --comment "fws-daemon service")
  if [ -n "$root" ]; then
    # useradd --prefix writes DIR/etc/passwd and friends, never the host's.
    mkdir -p "$root/etc"
    useradd --prefix "$root" "${useradd_args[@]}" "$user"
  else
    useradd "${useradd_args[@]}" "$user"
  fi
  say "created system user $user"
else
  say "user $user exists"
fi
uid="$(passwd_of "$user" | cut -d: -f3)"
gid="$(passwd_of "$user" | cut -d: -f4)"

# 5. The data root and the log folder: created when missing, never changed
# after (a site may have moved, re-owned or re-moded them).
for dir in "$data_root" "$log_root"; do
  if [ -d "$root$dir" ]; then
    say "$dir exists, left as it is"
  else
    mkdir -p "$root$dir"
    chmod 0755 "$root$dir"
    if $as_root; then
      chown "$uid:$gid" "$root$dir"
      say "created $dir (owner $user, mode 0755)"
    else
      say "created $dir (mode 0755; not root: not given to $user)"
    fi
  fi
done

# 6. The site's settings: from the examples, only when missing.
install -d -m 0755 "${owner_args[@]}" "$root$etc"
for pair in station.yaml:station.example.yaml environment:environment.example; do
  dest="$etc/${pair%%:*}"
  if [ -e "$root$dest" ]; then
    say "$dest exists, kept (new example: $share/${pair#*:})"
  else
    install -m 0644 "${owner_args[@]}" "$repo/deploy/${pair#*:}" "$root$dest"
    say "installed $dest (edit it for this site)"
  fi
done

# 7. Tell a running systemd about the new unit (never on a staging root).
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
say "done; next: edit $etc/station.yaml and $etc/environment, then" \
  "systemctl enable --now fws-daemon@1 (docs/deploy.md)"
