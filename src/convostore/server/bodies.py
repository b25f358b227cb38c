"""What a request body may cost: its size, and the shape of its JSON.

The byte limit alone does not bound the work a body makes. Eight megabytes of
``{},{},...`` are 2.7 million objects: parsed and validated element by element,
that is gigabytes of memory and tens of seconds of a blocked event loop, for
one request. So before a JSON body reaches the app, :func:`check_json` reads
it as a stream of tokens (a C tokenizer; nothing is built) and refuses it as
soon as it goes past one of three limits:

* ``max_json_values``: the number of JSON values in the body (every object, array,
  string, number, boolean and null counts; keys do not);
* ``max_json_depth``: how deeply arrays and objects nest;
* the store's batch limit (``Limits.max_batch``) on the items of an array at
  the top of the body, such as the ``messages`` of an append or an import.

Refusing costs at most ``max_json_values`` tokens of scanning, and the scan hands
the event loop back every few thousand tokens, so other requests are served
while a large body is checked. What passes is bounded in both time and memory
by the limits, whatever the route does with it; the models then stop at the
first invalid item of a list instead of collecting an error per item.
"""

from __future__ import annotations

import asyncio

import ijson  # type: ignore[import-untyped]
from starlette.responses import Response

from .errors import problem_response
from .limits import ServerLimits

__all__ = ["check_json", "is_json_body"]

_YIELD_EVERY = 8192


def is_json_body(content_type: bytes | None) -> bool:
    """Whether the app will read a body sent with this ``Content-Type`` as JSON.

    FastAPI parses a body as JSON when it is labelled JSON (``application/json``
    or any ``+json`` type) or not labelled at all.
    """
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class _Refused(Exception):
    def __init__(self, status: int, slug: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.field = status, slug, detail, field


async def check_json(body: bytes, limits: ServerLimits, max_items: int) -> Response | None:
    """A problem response for a JSON body over ``limits``, else ``None``.

    ``max_items`` bounds the items of an array at the top of the body (the
    store's batch limit).

    A body that is not well-formed JSON is let through: the app's parser
    reports where it breaks.
    """
    try:
        await _scan(body, limits.max_json_values, limits.max_json_depth, max_items)
    except _Refused as refused:
        errors = None
        if refused.field is not None:
            errors = [{"field": refused.field, "message": refused.detail, "type": "too_long"}]
        return problem_response(
            refused.status, refused.slug, refused.detail, field=refused.field, errors=errors
        )
    except (ijson.JSONError, UnicodeError, ValueError):
        return None
    return None


async def _scan(body: bytes, max_values: int, max_depth: int, max_items: int) -> None:
    # The containers open around the current token: True for an array.
    stack: list[bool] = []
    key: str | None = None  # the member of the top-level object being read
    values = items = 0
    for n, (event, value) in enumerate(ijson.basic_parse(body, use_float=True), 1):
        if n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if event == "map_key":
            if len(stack) == 1:
                key, items = value, 0
            continue
        if event == "end_map" or event == "end_array":
            stack.pop()
            continue
        values += 1
        if values > max_values:
            raise _Refused(
                413,
                "body-too-complex",
                f"the request body holds more than {max_values} JSON values",
            )
        depth = len(stack)
        if stack and stack[-1] and (depth == 1 or (depth == 2 and not stack[0])):
            items += 1
            if items > max_items:
                raise _Refused(
                    422,
                    "validation",
                    f"at most {max_items} items per request",
                    field=key if depth == 2 else "body",
                )
        if event == "start_map" or event == "start_array":
            if depth >= max_depth:
                raise _Refused(
                    400, "invalid-body", f"the body's JSON is nested more than {max_depth} deep"
                )
            stack.append(event == "start_array")
