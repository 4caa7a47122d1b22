#!/usr/bin/env bash
# Compiles the engine's hot modules with mypyc (from the same annotations mypy checks), so the
# per-event loop runs as C. The .so files sit next to their sources, where Python prefers
# them; signals/__init__.py refuses a compiled module older than its source, so an edit
# without a rebuild fails loudly instead of running stale code. Everything also runs as pure
# Python: `bash scripts/build-native.sh --clean` removes the compiled files.
set -euo pipefail
cd "$(dirname "$0")/.."
MODULES=(signals/counts.py signals/alerting.py signals/definitions.py signals/keys.py
         signals/ingest.py signals/evaluator.py signals/engine.py
         signals/lines.py)
clean() { rm -f signals/*.so ./*__mypyc*.so; }
clean
[ "${1:-}" = "--clean" ] && exit 0
log=$(mktemp)
if .venv/bin/mypyc "${MODULES[@]}" >"$log" 2>&1; then
  # mypyc puts the modules' shared runtime in one top-level library next to the package;
  # the editable install maps only the packages, so the repository root joins the path.
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  pwd > "$site/harmwatch-native.pth"
  # An unchanged module is copied from mypyc's build cache with its old mtime: stamp it now,
  # so the staleness check compares against this build.
  # The epoch-microseconds helper is plain C (signals/_clock.py is its pure fallback).
  inc=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  ext=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  if ! gcc -O2 -shared -fPIC -Wall -Werror -I"$inc" -o "signals/_clock$ext" signals/_clock.c; then
    rm -f signals/_clock*.so
    echo "build-native: signals/_clock.c did not compile; using signals/_clock.py" >&2
  fi
  touch signals/*.so
  echo "build-native: compiled ${MODULES[*]} signals/_clock.c"
else
  clean
  echo "build-native: compiling failed; the engine runs as pure Python (log: $log)" >&2
  tail -20 "$log" >&2
fi
