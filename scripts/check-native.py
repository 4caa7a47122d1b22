"""Proves which engine the tests are about to run: compiled or pure Python.

``python scripts/check-native.py compiled`` fails unless every module that
scripts/build-native.sh compiles (scripts/native-modules.txt), ``signals._clock`` and
``signals._tagcount`` are imported from a compiled extension; ``... pure`` fails unless
all of them come from their ``.py`` source. CI runs it before each pytest pass, so "the
compiled engine passed" cannot mean that the pure one ran again.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIST = REPO / "scripts" / "native-modules.txt"


def compiled_modules() -> list[str]:
    names = []
    for raw in LIST.read_text().splitlines():
        entry = raw.strip()
        if entry and not entry.startswith("#"):
            names.append(entry.removesuffix(".py").replace("/", "."))
    return names


def is_extension(module: types.ModuleType) -> bool:
    origin = module.__file__ or ""
    return any(origin.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)


def problems(want_compiled: bool) -> list[str]:
    found = []
    for name in [*compiled_modules(), "signals._clock", "signals._tagcount"]:
        module = importlib.import_module(name)
        if is_extension(module) != want_compiled:
            found.append(f"{name} is loaded from {module.__file__}")
    clock = importlib.import_module("signals._clock")
    # The C helper is a builtin function; the pure fallback is a Python function.
    if want_compiled and not isinstance(clock.micros, types.BuiltinFunctionType):
        found.append(f"signals._clock.micros is {clock.micros!r}, not the C helper")
    return found


def main(argv: list[str]) -> int:
    if argv not in (["compiled"], ["pure"]):
        print("usage: check-native.py compiled|pure", file=sys.stderr)
        return 2
    want_compiled = argv == ["compiled"]
    found = problems(want_compiled)
    kind = "compiled" if want_compiled else "pure-Python"
    if found:
        print(f"check-native: expected the {kind} engine, but:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        fix = ("run `bash scripts/build-native.sh` and read its error" if want_compiled
               else "run `bash scripts/build-native.sh --clean`")
        print(f"check-native: {fix}", file=sys.stderr)
        return 1
    print(f"check-native: {len(compiled_modules()) + 1} engine modules are {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
