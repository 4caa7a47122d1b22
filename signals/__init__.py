"""The pure domain: event contract, config models, signals, the engine and its alerts.

Some modules may be compiled by ``scripts/build-native.sh`` (mypyc); Python then imports
the compiled file instead of the source. A compiled file older than its source would run
stale code, so importing the package refuses it.
"""

from pathlib import Path as _Path

_HERE = _Path(__file__).resolve().parent


def _refuse_stale_native(here: _Path = _HERE) -> None:
    for native in here.glob("*.so"):
        stem = native.name.split(".", 1)[0]
        for source in (here / (stem + ".py"), here / (stem + ".c")):
            if source.exists() and source.stat().st_mtime > native.stat().st_mtime:
                raise ImportError(
                    f"{native} is older than {source.name}; rebuild it with "
                    "`bash scripts/build-native.sh` (or remove it with --clean)")


_refuse_stale_native()
