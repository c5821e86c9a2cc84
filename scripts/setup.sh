#!/usr/bin/env bash
# Installs every Debian package stepvideo needs to build, test and run.
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libfmt-dev nlohmann-json3-dev libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev ocl-icd-opencl-dev
  openmpi-bin libopenmpi-dev
  libhdf5-dev
  libsentencepiece-dev sentencepiece libicu-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg
  slurm-wlm munge libpmix2
  libprotobuf-dev protobuf-compiler
  libcpp-httplib-dev
  chromium chromium-driver fonts-liberation
  jq python3 curl procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
