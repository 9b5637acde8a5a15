#!/usr/bin/env bash
# OS step, idempotent: a no-op where everything is already there.
#
# 1. TFX 1.21's ml-metadata, tensorflow-data-validation and tfx-bsl wheels are tagged
#    manylinux_2_39, so they need glibc >= 2.39 and libstdc++ with GLIBCXX_3.4.32. On Debian 12
#    (glibc 2.36) we pull libstdc++6 (and with it libc6 2.41) from Debian 13 "trixie" with a low
#    apt pin, so nothing else on the system moves. Any other too-old system stops with a message
#    naming the requirement.
# 2. The Debian packages the project's features and tests use: graphviz (`prune-lineage graph
#    --format png`), mariadb-server (the tests' real ML Metadata server, started by the tests
#    themselves as a child process; the package's own service is not started), docker.io and
#    debootstrap (`make kfp-image` / `make kfp-local` and their test; the daemon is started by
#    them, not as a service), chromium (the test that renders the HTML report).
# SETUP_OS_GLIBC_ONLY=1 does step 1 alone (scripts/kfp_base_image.sh runs it in the image).
set -euo pipefail

REQUIRED_GLIBC="2.39"
REQUIRED_GLIBCXX="GLIBCXX_3.4.32"
PACKAGES=(graphviz mariadb-server docker.io debootstrap chromium)

glibc_version() { ldd --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+$' || true; }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
libstdcxx_ok() {
  local lib
  lib=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}')
  [ -n "$lib" ] && grep -qa "$REQUIRED_GLIBCXX" "$lib"
}
sudo_or_fail() {
  if [ "$(id -u)" = "0" ]; then echo ""; return; fi
  command -v sudo >/dev/null || { echo "setup_os: needs root (or sudo) to $1" >&2; exit 1; }
  echo "sudo"
}

current=$(glibc_version)
if [ -n "$current" ] && version_ge "$current" "$REQUIRED_GLIBC" && libstdcxx_ok; then
  echo "setup_os: glibc $current and $REQUIRED_GLIBCXX present."
else
  . /etc/os-release 2>/dev/null || true
  if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
    cat >&2 <<MSG
setup_os: this system has glibc ${current:-unknown}; TFX 1.21 needs glibc >= $REQUIRED_GLIBC and
$REQUIRED_GLIBCXX (its ml-metadata, tensorflow-data-validation and tfx-bsl wheels are manylinux_2_39).
Supported: Ubuntu 24.04+, Debian 13+, or Debian 12 (this script upgrades libstdc++6 from trixie).
Alternative: run inside a container built from kubeflow/Dockerfile (python:3.11 on Debian 13).
MSG
    exit 1
  fi
  SUDO=$(sudo_or_fail "install libstdc++6 from trixie")
  echo "setup_os: Debian 12 with glibc $current: installing libstdc++6 (and libc6) from Debian 13 trixie, pinned at priority 100"
  if ! grep -rqsE '^[^#]*trixie' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | $SUDO tee /etc/apt/sources.list.d/trixie.sources >/dev/null
  fi
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' | $SUDO tee /etc/apt/preferences.d/trixie-pin >/dev/null
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t trixie libstdc++6 >/dev/null
  echo "setup_os: now glibc $(glibc_version)"
  libstdcxx_ok || { echo "setup_os: $REQUIRED_GLIBCXX still missing after the upgrade" >&2; exit 1; }
fi

[ "${SETUP_OS_GLIBC_ONLY:-}" = "1" ] && exit 0

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_os: ${PACKAGES[*]} present."
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup_os: install ${missing[*]} with your system's package manager (no apt-get here)" >&2
  exit 1
fi
SUDO=$(sudo_or_fail "install ${missing[*]}")
echo "setup_os: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
