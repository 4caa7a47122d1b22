"""The live view's emergent-threat panel and the line log used without it."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from signals.engine import Engine
from signals.records import Episode
from streams.config_files import load_config, load_threats
from streams.embedded.threat_panel import ThreatLog, threat_panel

AT = dt.datetime(2026, 11, 24, 9, 5, tzinfo=dt.UTC)


def _text(renderable: object) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _episode(signal: str, detail: str, ended: dt.datetime | None = None) -> Episode:
    return Episode("youth_safety", None, signal, "critical", AT, ended, 54, 24, detail=detail)


def test_no_panel_when_the_detectors_are_off() -> None:
    assert threat_panel(Engine(load_config())) is None


def test_panel_shows_open_episodes_with_detail_and_route() -> None:
    config = load_config()
    engine = Engine(config, load_threats(config=config))
    assert engine.threats is not None
    assert "no emergent threat open" in _text(threat_panel(engine))
    engine.threats.episodes += [
        _episode("emerging_tag", "tag challenge-blackout-7 in youth_safety reports"),
        _episode("drop_automated", "automated decisions fell", ended=AT),
    ]
    text = _text(threat_panel(engine))
    assert "1 open" in text and "challenge-blackout-7" in text and "policy" in text
    assert "automated decisions fell" not in text  # closed episodes are not shown


def test_line_log_says_each_opening_and_closing_once() -> None:
    config = load_config()
    engine = Engine(config, load_threats(config=config))
    assert engine.threats is not None
    out, log = io.StringIO(), ThreatLog()
    episode = _episode("emerging_tag", "tag x")
    engine.threats.episodes.append(episode)
    log.write(engine.threats, out)
    log.write(engine.threats, out)
    episode.ended_at = AT + dt.timedelta(minutes=25)
    log.write(engine.threats, out)
    log.write(engine.threats, out)
    assert out.getvalue().splitlines() == [
        "threat firing: youth_safety emerging_tag at 2026-11-24T09:05:00+00:00: tag x",
        "threat resolved: youth_safety emerging_tag at 2026-11-24T09:30:00+00:00",
    ]
