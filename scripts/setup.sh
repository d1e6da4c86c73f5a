#!/usr/bin/env bash
# Installs every Debian package tpusim needs. Idempotent: re-running only checks.
set -euo pipefail
pkgs=(cmake g++ make pkg-config ccache
      libsystemc-dev verilator libeigen3-dev libprotobuf-dev protobuf-compiler
      libonnx-dev libonnx-testdata libgtest-dev libgmock-dev libbenchmark-dev
      libabsl-dev libcli11-dev libspdlog-dev libfmt-dev dataset-fashion-mnist zlib1g-dev
      python3-dev python3-pybind11 pybind11-dev python3-numpy python3-onnx  # docs/python.md
      libtorch-dev python3-torch)  # the PyTorch device and export tests: docs/pytorch.md
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
