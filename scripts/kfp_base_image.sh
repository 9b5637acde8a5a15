#!/usr/bin/env bash
# A base image for kubeflow/Dockerfile built from Debian's packages, for machines that reach
# Debian's mirror but no image registry (where `python:3.11-slim-trixie` cannot be pulled).
#
#   bash scripts/kfp_base_image.sh [NAME:TAG]      (default tfx-pruning-base:bookworm-py3.11)
#
# Debian 12 "bookworm" (minbase) with Python 3.11 and venv, then libstdc++6 and libc6 2.41 from
# Debian 13 "trixie" by the same step as scripts/setup_os.sh (TFX 1.21's manylinux_2_39 wheels).
# The host's CA bundle replaces the image's, so the image's `pip install` trusts what the host's
# pip trusts (a proxy's certificate included). Idempotent: an existing NAME:TAG is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=${1:-tfx-pruning-base:bookworm-py3.11}
PACKAGES=python3.11,python3-venv,ca-certificates,passwd

if docker image inspect "$NAME" >/dev/null 2>&1; then
  echo "kfp-base-image: $NAME present."
  exit 0
fi
[ "$(id -u)" = "0" ] || { echo "kfp-base-image: debootstrap needs root" >&2; exit 2; }
command -v debootstrap >/dev/null || {
  echo "kfp-base-image: debootstrap missing: apt-get install debootstrap (scripts/setup_os.sh does)" >&2
  exit 2
}

# The mirror apt already uses for bookworm.
mirror=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null \
  | awk '$1 == "bookworm" {print $2; exit}')
mirror=${mirror:-http://deb.debian.org/debian/}
bundle=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}

root=$(mktemp -d /tmp/kfp-base.XXXXXX)
chmod 0755 "$root"  # apt in the chroot downloads as its own user, _apt
unmount() { umount "$root/dev/pts" "$root/proc" 2>/dev/null || true; }
trap 'unmount; rm -rf "$root"' EXIT
start=$(date +%s)
echo "kfp-base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$mirror" >/dev/null

cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -f "$bundle" ] && cp "$bundle" "$root/etc/ssl/certs/ca-certificates.crt"
install -m 0755 scripts/setup_os.sh "$root/tmp/setup_os.sh"
mount -t proc proc "$root/proc"
mount -t devpts devpts "$root/dev/pts"
# Only the C++ runtime step: the image needs none of the host's services.
chroot "$root" env SETUP_OS_GLIBC_ONLY=1 bash /tmp/setup_os.sh
chroot "$root" apt-get clean
unmount
rm -rf "$root/tmp/setup_os.sh" "$root"/var/lib/apt/lists/* "$root/etc/resolv.conf"

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3.11"]' - "$NAME" >/dev/null
echo "kfp-base-image: $NAME built in $(( $(date +%s) - start )) s" \
  "($(docker image inspect -f '{{.Size}}' "$NAME" | awk '{printf "%.0f MB", $1 / 1e6}'))"
