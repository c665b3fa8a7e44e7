"""Run localstripe (a fake Stripe API and Stripe.js) for development and tests.

    python scripts/localstripe_server.py --port 8420 [--host 127.0.0.1]

Unlike `localstripe` itself, this binds to loopback only and keeps its state in
memory: the stock program saves to a fixed /tmp/localstripe.pickle that every
instance on the machine would share. It also honours `Idempotency-Key` the way
Stripe does, which localstripe ignores: a POST repeated with the same key gets
the first answer again instead of doing the work twice (a retry after a lost
answer must not make a second PaymentIntent).
"""

import argparse
import hashlib
import logging

from aiohttp import web
from localstripe import resources
from localstripe.server import app

# (API key, idempotency key) -> (fingerprint of the request, status, body, content type).
_answers: dict[tuple[str, str], tuple[str, int, bytes, str]] = {}
_in_progress: set[tuple[str, str]] = set()


def _stripe_error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response({"error": {"type": error_type, "message": message}}, status=status)


@web.middleware
async def idempotency_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Answer a POST repeated with the same Idempotency-Key with the first answer, as Stripe does.

    The same key with a different request is refused (400); while the first request
    is still running, a repeat gets 409. Answers the request never started to work on
    (401, 409, 429, 5xx) are not kept, so a retry runs again. Flushing the data
    forgets every key.
    """
    if request.method == "DELETE" and request.path == "/_config/data":
        _answers.clear()
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    fingerprint = hashlib.sha256(request.path.encode() + b"\n" + await request.read()).hexdigest()
    if scope in _answers:
        first_fingerprint, status, body, content_type = _answers[scope]
        if first_fingerprint != fingerprint:
            return _stripe_error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        return web.Response(
            status=status, body=body, content_type=content_type, headers={"Idempotent-Replayed": "true"}
        )
    if scope in _in_progress:
        return _stripe_error(409, "idempotency_error", "A request with this key is still in progress.")
    _in_progress.add(scope)
    try:
        response = await handler(request)
    finally:
        _in_progress.discard(scope)
    if (
        isinstance(response, web.Response)
        and response.status < 500
        and response.status not in (401, 409, 429)
    ):
        _answers[scope] = (fingerprint, response.status, response.body, response.content_type)
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    args = parser.parse_args()

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]
    app.middlewares.insert(0, idempotency_middleware)

    access_log = None
    if not args.quiet:
        access_log = logging.getLogger("aiohttp.access")
        access_log.setLevel(logging.INFO)
        access_log.addHandler(logging.StreamHandler())
    web.run_app(app, host=args.host, port=args.port, access_log=access_log, print=None)


if __name__ == "__main__":
    main()
