"""tests/support.py: polling returns the first truthy result or says what it waited for."""

from __future__ import annotations

import socket

import pytest

from tests.support import REPO, free_port, free_ports, wait_until


def test_wait_until_returns_the_first_truthy_result() -> None:
    answers = iter([0, "", None, "ready", "later"])
    assert wait_until(lambda: next(answers), 5, "an answer", interval=0) == "ready"


def test_wait_until_names_what_it_waited_for_and_the_last_result() -> None:
    expected = r"after 0.05s waiting for the moon \(last result: \[\]\)"
    with pytest.raises(AssertionError, match=expected):
        wait_until(list, 0.05, "the moon", interval=0.01)


def test_wait_until_treats_oserror_as_not_yet_and_reports_it() -> None:
    calls: list[int] = []

    def refused() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("nobody listens")
        return True

    assert wait_until(refused, 5, "a server", interval=0) is True
    assert len(calls) == 3

    def always_refused() -> bool:
        raise ConnectionRefusedError("nobody listens")

    with pytest.raises(AssertionError, match="ConnectionRefusedError: nobody listens"):
        wait_until(always_refused, 0.05, "a server", interval=0.01)


def test_wait_until_lets_other_errors_through() -> None:
    def broken() -> bool:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        wait_until(broken, 5, "anything", interval=0)


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in [*ports, free_port()]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_repo_is_the_checkout() -> None:
    assert (REPO / "pyproject.toml").is_file() and (REPO / "signals" / "__init__.py").is_file()
