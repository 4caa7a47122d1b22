"""A compiled module older than its Python or C source is refused at import."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signals import _refuse_stale_native


@pytest.mark.parametrize("source", ["engine.py", "_clock.c"])
def test_stale_native_module_is_refused(tmp_path: Path, source: str) -> None:
    stem = source.split(".")[0]
    native = tmp_path / f"{stem}.cpython-311-x86_64-linux-gnu.so"
    native.write_bytes(b"")
    (tmp_path / source).write_text("")
    os.utime(native, (1_000, 1_000))
    with pytest.raises(ImportError, match=f"older than {source}"):
        _refuse_stale_native(tmp_path)
    os.utime(native, None)  # rebuilt after the edit
    os.utime(tmp_path / source, (1_000, 1_000))
    _refuse_stale_native(tmp_path)
