#!/usr/bin/env bash
# Regenerates every generated artifact into a scratch directory and fails when the committed
# copy differs (CI runs this). Fix a failure by running the two commands below and
# committing the result:
#   harmwatch rules generate --output deploy/prometheus/rules/harmwatch-alerts.yml
#   harmwatch dashboards generate --output-dir deploy/grafana/dashboards
set -euo pipefail
cd "$(dirname "$0")/.."
HARMWATCH=${HARMWATCH:-.venv/bin/harmwatch}
[ -x "$HARMWATCH" ] || HARMWATCH=harmwatch
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The committed files use the shipped config and the default Grafana URL, whatever the
# caller's environment says.
# Their progress lines are noise here; their errors are not (a failing generator must say why).
gen() {
  env -u HARMWATCH_CONFIG -u HARMWATCH_GRAFANA_URL "$HARMWATCH" "$@" 2>"$scratch/stderr" || {
    cat "$scratch/stderr" >&2
    echo "check-generated: \`harmwatch $*\` failed" >&2
    exit 1
  }
}
gen rules generate --config config/thresholds.yaml --output "$scratch/harmwatch-alerts.yml"
gen dashboards generate --config config/thresholds.yaml --output-dir "$scratch/dashboards"

status=0
if ! diff -u deploy/prometheus/rules/harmwatch-alerts.yml "$scratch/harmwatch-alerts.yml"; then
  status=1
fi
if ! diff -ru deploy/grafana/dashboards "$scratch/dashboards"; then
  status=1
fi
if [ "$status" -ne 0 ]; then
  cat >&2 <<'MSG'
generated files are stale: regenerate and commit them:
  harmwatch rules generate --output deploy/prometheus/rules/harmwatch-alerts.yml
  harmwatch dashboards generate --output-dir deploy/grafana/dashboards
MSG
  exit 1
fi
echo "generated files are up to date (rules, $(ls "$scratch/dashboards" | wc -l) dashboards)"
