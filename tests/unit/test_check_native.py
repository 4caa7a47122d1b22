"""scripts/check-native.py tells the compiled engine from the pure one, whichever is built."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys

from tests.support import REPO

SCRIPT = REPO / "scripts" / "check-native.py"


def _check(kind: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), kind], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def test_exactly_the_built_kind_passes() -> None:
    built = [p.name for p in (REPO / "signals").iterdir()
             if any(p.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)]
    if os.environ.get("HARMWATCH_EXPECT_NATIVE") == "1":
        assert built, "HARMWATCH_EXPECT_NATIVE=1 but nothing is compiled"
    compiled, pure = _check("compiled"), _check("pure")
    if built:
        assert compiled.returncode == 0, compiled.stderr
        assert pure.returncode == 1
        assert "signals.ingest is loaded from" in pure.stderr
        assert ".so" in pure.stderr
    else:
        assert pure.returncode == 0, pure.stderr
        assert compiled.returncode == 1
        assert "signals.ingest is loaded from" in compiled.stderr
        assert "signals._clock.micros is <function micros" in compiled.stderr
        assert "run `bash scripts/build-native.sh`" in compiled.stderr


def test_a_wrong_argument_is_a_usage_error() -> None:
    done = _check("maybe")
    assert done.returncode == 2 and "usage: check-native.py compiled|pure" in done.stderr
