"""What the alerts sink's API answers: the routes, the JSON shapes, a silence's request.

``GET /incidents``: the open incidents, ``[{key, rule, kind, severity, summary, labels,
opened_ms, updated_ms, value, details, silenced}]``. ``GET /silences``: ``[{id, match,
ends_ms, comment, created_ms}]``. ``POST /silences`` with ``{"match": glob, "duration":
seconds | "ends_ms": ms since the epoch, "comment": text}``: 201 and the silence.
``DELETE /silences/<id>``: 204, or 404. Errors are ``{"error": text}`` with 400, 404,
405 or 409 (too many silences). Pure apart from the calls it is handed.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ...alerts import Incident, Silence

#: The longest silence: ten years (a longer one is a mistake, or an overflow waiting to happen).
MAX_SILENCE_SECONDS = 10 * 366 * 86_400
MAX_COMMENT = 1_000
MAX_MATCH = 1_000


def incident_json(incident: Incident, silences: list[Silence]) -> dict[str, Any]:
    """The incident's document, and whether a silence holds it."""
    silenced = any(fnmatch.fnmatchcase(incident.key, silence.match) for silence in silences)
    return {**incident.document(), "silenced": silenced}


def silence_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "match": silence.match,
        "ends_ms": silence.ends_ms,
        "comment": silence.comment,
        "created_ms": silence.created_ms,
    }


class BadRequest(ValueError):
    """The request cannot be done as asked (400)."""


def silence_request(body: bytes, now_ms: int) -> tuple[str, int, str]:
    """(match, ends_ms, comment) from a POST /silences body; BadRequest says what is wrong."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = set(document) - {"match", "duration", "ends_ms", "comment"}
    if unknown:
        raise BadRequest(f"unknown keys: {', '.join(sorted(unknown))}; expected match, duration or ends_ms, comment")
    match = document.get("match")
    if not isinstance(match, str) or not match or len(match) > MAX_MATCH:
        raise BadRequest("match: a glob on incident keys (such as 'heartbeat/web/*') is required")
    comment = document.get("comment", "")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise BadRequest(f"comment: must be text of at most {MAX_COMMENT} characters")
    duration, ends = document.get("duration"), document.get("ends_ms")
    if (duration is None) == (ends is None):
        raise BadRequest("give one of duration (seconds) or ends_ms (ms since the epoch)")
    if duration is not None:
        if not _number(duration) or not 0 < duration <= MAX_SILENCE_SECONDS:
            raise BadRequest(f"duration: must be a positive number of seconds, at most {MAX_SILENCE_SECONDS}")
        ends = now_ms + round(duration * 1000)
    elif not isinstance(ends, int) or isinstance(ends, bool):
        raise BadRequest("ends_ms: must be a whole number of ms since the epoch")
    if ends <= now_ms:
        raise BadRequest("the silence must end in the future")
    if ends > now_ms + MAX_SILENCE_SECONDS * 1000:
        raise BadRequest(f"the silence must end within {MAX_SILENCE_SECONDS} seconds (ten years)")
    return match, ends, comment


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Routes:
    """The calls the API is handed by its sink."""

    incidents: Callable[[], list[Incident]]
    silences: Callable[[], list[Silence]]
    add_silence: Callable[[str, int, str], Silence]  # ValueError: refused
    remove_silence: Callable[[str], None]  # KeyError: no such silence
    now_ms: Callable[[], int]

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        path = target.partition("?")[0].rstrip("/") or "/"
        if path == "/incidents":
            if method != "GET":
                return _error(405, "GET /incidents")
            silences = self.silences()
            return 200, orjson.dumps([incident_json(i, silences) for i in self.incidents()])
        if path == "/silences":
            if method == "GET":
                return 200, orjson.dumps([silence_json(s) for s in self.silences()])
            if method != "POST":
                return _error(405, "GET or POST /silences")
            try:
                match, ends, comment = silence_request(body, self.now_ms())
            except BadRequest as exc:
                return _error(400, str(exc))
            try:
                silence = self.add_silence(match, ends, comment)
            except ValueError as exc:
                return _error(409, str(exc))
            return 201, orjson.dumps(silence_json(silence))
        if path.startswith("/silences/"):
            if method != "DELETE":
                return _error(405, "DELETE /silences/<id>")
            try:
                self.remove_silence(path.removeprefix("/silences/"))
            except KeyError:
                return _error(404, "no silence by that id")
            return 204, b""
        return _error(404, "the API has /incidents and /silences")


def _error(status: int, text: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": text})
