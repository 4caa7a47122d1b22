"""The live view of `harmwatch run`: area names shown in full where the terminal has room."""

from __future__ import annotations

import io

from rich.console import Console

from signals.pipeline import Pipeline
from streams.config_files import load_config
from streams.embedded.live import LiveView
from tests.support import REPO

CONFIG = load_config(REPO / "config" / "thresholds.yaml")
LONGEST = "Regulated goods (drugs, weapons, alcohol)"  # config/policy_areas.yaml, 41 characters


def rendered(width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, legacy_windows=False)
    console.print(LiveView(CONFIG, Pipeline(CONFIG), None).render())
    return out.getvalue()


def test_long_area_names_are_shown_in_full_when_the_column_has_room() -> None:
    text = rendered(220)
    assert LONGEST in text
    assert "Body image & disordered eating" in text


def test_a_narrow_terminal_shortens_names_on_one_line_each() -> None:
    text = rendered(100)
    assert LONGEST not in text
    # The names give way, not the values: every signal's header is still whole.
    for header in ("reports", "regulator", "viol%", "minors", "overturn%", "surge"):
        assert header in text
    # One table row per area (no name wrapped onto a second line), each starting as named.
    for area in CONFIG.areas:
        name = CONFIG.taxonomy.info(area).name
        rows = [row for row in text.splitlines() if row.lstrip("│┃ ").startswith(name[:8])]
        assert len(rows) == 1, (name, rows)
