"""The hashed lock files agree with pyproject.toml (regenerate them with `bash scripts/lock.sh`).

requirements/dev.lock (runtime + dev) is what scripts/setup.sh and CI install,
requirements/runtime.lock what docker/Dockerfile installs; pyproject.toml keeps the ranges.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import REPO

FIX = "run `bash scripts/lock.sh` after changing dependencies in pyproject.toml"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def parse_lock(text: str) -> dict[str, tuple[str, int]]:
    """name -> (pinned version, number of sha256 hashes) for each ``name==version`` entry."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for raw in text.splitlines():
        pin = _PIN.match(raw)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = (pin.group(2), 0)
        elif current is not None and _HASH.search(raw):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif raw and not raw.startswith(" "):
            current = None
    return pins


def problems(requirements: list[str], pins: dict[str, tuple[str, int]], lock: str) -> list[str]:
    """Each requirement that the lock misses or pins outside its range, or pins unhashed."""
    out = []
    env = {"python_version": "3.11", "python_full_version": "3.11.0"}
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            out.append(f"{lock}: {req.name} is not pinned")
            continue
        version, _ = pins[name]
        if not req.specifier.contains(version, prereleases=True):
            out.append(f"{lock}: {req.name}=={version} is outside {req.specifier}")
    out += [f"{lock}: {name} has no hash" for name, (_, n) in pins.items() if n == 0]
    return out


def _project() -> tuple[list[str], list[str]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return list(data["dependencies"]), list(data["optional-dependencies"]["dev"])


def _pins(name: str) -> dict[str, tuple[str, int]]:
    path = Path(REPO / "requirements" / name)
    return parse_lock(path.read_text())


def test_dev_lock_pins_every_dependency_inside_its_range() -> None:
    runtime, dev = _project()
    assert problems(runtime + dev, _pins("dev.lock"), "dev.lock") == [], FIX


def test_runtime_lock_pins_the_runtime_as_dev_lock_does_and_no_test_tools() -> None:
    runtime, dev = _project()
    pins, dev_pins = _pins("runtime.lock"), _pins("dev.lock")
    assert problems(runtime, pins, "runtime.lock") == [], FIX
    # The image runs exactly the versions CI tested.
    differing = {n: (v, dev_pins.get(n, ("absent", 0))[0]) for n, (v, _) in pins.items()
                 if dev_pins.get(n, ("", 0))[0] != v}
    assert differing == {}, FIX
    tools = {canonicalize_name(Requirement(t).name) for t in dev}
    assert tools & set(pins) == set(), FIX


def test_the_check_catches_a_missing_pin_a_pin_out_of_range_and_a_missing_hash() -> None:
    lock = ("# header\n"
            "msgspec==0.18.6 \\\n"
            "    --hash=sha256:" + "a" * 64 + "\n"
            "    # via harmwatch\n"
            "rich==13.9.4\n"
            "colorama==0.4.6 ; sys_platform == 'win32' \\\n"
            "    --hash=sha256:" + "b" * 64 + " \\\n"
            "    --hash=sha256:" + "c" * 64 + "\n")
    pins = parse_lock(lock)
    assert pins == {"msgspec": ("0.18.6", 1), "rich": ("13.9.4", 0), "colorama": ("0.4.6", 2)}
    assert problems(["msgspec>=0.19", "Rich>=13", "PyYAML>=6",
                     "tomli>=2; python_version < '3.11'"], pins, "x.lock") == [
        "x.lock: msgspec==0.18.6 is outside >=0.19",
        "x.lock: PyYAML is not pinned",
        "x.lock: rich has no hash",
    ]
