#!/usr/bin/env bash
# System packages for the tests: an X server (Xvfb) and Mesa OpenGL for napari's GUI tests, and
# dicom3tools, whose dciodvfy checks the derived DICOM output against the standard's IODs;
# Orthanc with its DICOMweb plugin, the real PACS the tests of medidenoise.pacs start (on
# loopback ports, with their own configuration: the system service is not used), and openssl,
# which makes the self-signed certificate of their HTTPS test; Chromium and its WebDriver, in
# which tests/docs opens the built documentation site headless.
# Installs only what is missing; needs root (CI runs as root) or prints what to install.
set -euo pipefail
pkgs=(xvfb xauth libgl1-mesa-dri libegl1 libgl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0
      libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0
      libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1 libxcb-xkb1 dicom3tools
      orthanc orthanc-dicomweb openssl chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
