#!/usr/bin/env bash
# Installs what building Runnel needs and the machine lacks: librocksdb-dev (with its
# pkg-config file). Idempotent and quiet when everything is present.
set -euo pipefail

need=()
pkg-config --exists rocksdb 2>/dev/null || need+=(librocksdb-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# The TLS tests make throwaway certificates with the openssl CLI.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# An independent HTTP/2 client for the SSE-over-HTTP/2 test (and the measure scripts' probes).
command -v curl >/dev/null 2>&1 || need+=(curl)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
