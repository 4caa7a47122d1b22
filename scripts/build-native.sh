#!/usr/bin/env bash
# Compiles the engine's hot modules (scripts/native-modules.txt) with mypyc, from the same
# annotations mypy checks, so the per-event loop runs as C; signals/_clock.c and
# signals/_tagcount.c are plain C. The .so files sit next to their sources, where Python
# prefers them; signals/__init__.py refuses a compiled module older than its source, so an
# edit without a rebuild fails loudly instead of running stale code. Everything also runs
# as pure Python:
# `bash scripts/build-native.sh --clean` removes the compiled files.
#
# A failed compile exits non-zero and leaves no compiled file behind: a caller that asked for
# the compiled engine must not get the pure one silently (scripts/check-native.py proves
# what was loaded).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t MODULES < <(grep -v '^\s*\(#\|$\)' scripts/native-modules.txt)
clean() { rm -f signals/*.so ./*__mypyc*.so; }
clean
[ "${1:-}" = "--clean" ] && exit 0
fail() {
  clean
  echo "build-native: FAILED: $1; no compiled module is left, the engine would run as pure" \
       "Python" >&2
  exit 1
}
log=$(mktemp)
if ! .venv/bin/mypyc "${MODULES[@]}" >"$log" 2>&1; then
  tail -20 "$log" >&2
  fail "mypyc could not compile ${MODULES[*]} (log: $log)"
fi
# mypyc puts the modules' shared runtime in one top-level library next to the package;
# the editable install maps only the packages, so the repository root joins the path.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pwd > "$site/harmwatch-native.pth"
# The epoch-microseconds helper is plain C (signals/_clock.py is its pure fallback).
inc=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
ext=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
# So are the pane tag tables (signals/_tagcount.py is theirs).
for helper in _clock _tagcount; do
  if ! gcc -O2 -shared -fPIC -Wall -Werror -I"$inc" -o "signals/$helper$ext" "signals/$helper.c"; then
    fail "signals/$helper.c did not compile"
  fi
done
# An unchanged module is copied from mypyc's build cache with its old mtime: stamp it now,
# so the staleness check compares against this build.
touch signals/*.so
echo "build-native: compiled ${MODULES[*]} signals/_clock.c signals/_tagcount.c"
