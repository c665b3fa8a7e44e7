"""Run localstripe (a fake Stripe API and Stripe.js) for development and tests.

    python scripts/localstripe_server.py --port 8420 [--host 127.0.0.1]

Unlike `localstripe` itself, this binds to loopback only and keeps its state in
memory: the stock program saves to a fixed /tmp/localstripe.pickle that every
instance on the machine would share.
"""

import argparse
import logging

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    args = parser.parse_args()

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]

    access_log = None
    if not args.quiet:
        access_log = logging.getLogger("aiohttp.access")
        access_log.setLevel(logging.INFO)
        access_log.addHandler(logging.StreamHandler())
    web.run_app(app, host=args.host, port=args.port, access_log=access_log, print=None)


if __name__ == "__main__":
    main()
