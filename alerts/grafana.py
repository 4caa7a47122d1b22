"""Push the generated dashboards to a Grafana server through its HTTP API.

Idempotent: the folder is created only when missing and every dashboard is saved under its
fixed uid with ``overwrite: true``, so a second push updates the same dashboards (Grafana
bumps their version) instead of creating copies.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alerts.naming import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID

TOKEN_ENV: Final = "GRAFANA_TOKEN"


class PushError(RuntimeError):
    pass


@dataclass(frozen=True)
class Pushed:
    uid: str
    url: str
    version: int


def read_token(token_file: Path | None) -> str | None:
    """The API token: the file when given (first line, stripped), else ``$GRAFANA_TOKEN``.

    Never a command-line argument: those end up in shell history and ``ps`` output.
    """
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PushError(f"cannot read the token file {token_file}: {exc.strerror}") from None
        if not token:
            raise PushError(f"the token file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None


def with_datasource(board: dict[str, Any], uid: str) -> dict[str, Any]:
    """A copy of ``board`` whose Prometheus datasource references point at ``uid``."""
    board = copy.deepcopy(board)
    if uid == DATASOURCE_UID:
        return board

    def fix(node: object) -> None:
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") == DATASOURCE_UID:
                ds["uid"] = uid
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(board)
    return board


def save_request(board: dict[str, Any], folder_uid: str, message: str) -> dict[str, Any]:
    """The body of ``POST /api/dashboards/db``: ``id`` null so Grafana matches on the uid."""
    return {"dashboard": {**board, "id": None}, "folderUid": folder_uid, "overwrite": True,
            "message": message}


def push(url: str, token: str | None, boards: list[dict[str, Any]], *,
         folder_uid: str = FOLDER_UID, folder_title: str = FOLDER_TITLE,
         message: str = "harmwatch dashboards push", timeout_s: float = 10.0) -> list[Pushed]:
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        try:
            api.folder.get_folder(folder_uid)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder(folder_title, uid=folder_uid)
        out = []
        for board in boards:
            answer = api.dashboard.update_dashboard(save_request(board, folder_uid, message))
            if not isinstance(answer, dict) or answer.get("status") != "success":
                raise PushError(f"Grafana refused dashboard {board['uid']}: {answer!r}")
            out.append(Pushed(str(answer.get("uid", board["uid"])), str(answer.get("url", "")),
                              int(answer.get("version", 0))))
        return out
    except GrafanaException as exc:
        raise PushError(f"Grafana at {url}: {exc.message}") from None
    except OSError as exc:
        raise PushError(f"cannot reach Grafana at {url}: {exc}") from None
