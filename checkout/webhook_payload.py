"""Reading a signed webhook body into something PostgreSQL can store.

Stripe's bodies are JSON of a few levels. A body that is signed can still hold
what the database refuses (a NUL character, half of a surrogate pair, NaN or
an infinite number) or be nested deep enough to exhaust Python's parser: each
would fail on every one of Stripe's retries. Text the database cannot hold is
replaced; what cannot be read at all is refused with a reason.
"""

from __future__ import annotations

import json
import math
import re

# Stripe's events nest about ten levels (event, data, object, list, item, metadata…).
MAX_DEPTH = 32

# Only a \u escape can put a NUL or a lone surrogate into a strictly decoded UTF-8 body.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abAB])")


class UnreadableBody(ValueError):
    """A body that cannot be read as a storable JSON value; the message says why, to staff."""


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise UnreadableBody(f"The body holds a number too large to store ({text[:40]}).")
    return number


def _constant(name: str) -> float:
    raise UnreadableBody(f"The body holds {name}, which is not JSON.")


def storable_text(text: str) -> str:
    """Return `text` with what PostgreSQL cannot store (NUL, lone surrogates) replaced by U+FFFD."""
    text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _clean(value: object) -> object:
    """Return `value` with every string (keys too) made storable."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {storable_text(key): _clean(item) for key, item in value.items()}
    return value


def _depth(value: object) -> int:
    """Return how deeply `value` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def body_read(payload: bytes) -> object:
    """Return the JSON value of a UTF-8 body, storable as it is; raise UnreadableBody."""
    try:
        value = json.loads(payload, parse_float=_finite, parse_constant=_constant)
    except RecursionError as error:
        raise UnreadableBody(f"The body nests deeper than {MAX_DEPTH} levels.") from error
    except UnreadableBody:
        raise
    except ValueError as error:
        raise UnreadableBody("The body is not JSON.") from error
    if _depth(value) > MAX_DEPTH:
        raise UnreadableBody(f"The body nests deeper than {MAX_DEPTH} levels.")
    if _UNSTORABLE_ESCAPE.search(payload):
        value = _clean(value)
    return value
