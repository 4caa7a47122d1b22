#!/usr/bin/env bash
# Debian packages the integration tests start for real: Prometheus (with promtool) and
# Alertmanager (with amtool). Java 17 and Maven (for the local Kafka broker) come with the
# machine; this only checks they are there.
set -euo pipefail
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)  # headless: renders the audit report in a test
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
# Debian's packages start the services under systemd where it runs; the tests start their
# own instances on loopback ports, so nothing here depends on those.
for tool in java mvn prometheus promtool prometheus-alertmanager amtool; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
