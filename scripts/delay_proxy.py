"""A small HTTP proxy that adds a fixed delay to every request, for benchmarks on loopback.

python scripts/delay_proxy.py --port 9001 --target http://127.0.0.1:8420 --delay 0.1
"""

import argparse
import asyncio

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    target = args.target.rstrip("/")

    async def start_session(app: web.Application) -> None:
        app["session"] = ClientSession(
            connector=TCPConnector(limit=0, limit_per_host=0), timeout=ClientTimeout(total=60)
        )

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(args.delay)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with request.app["session"].request(
            request.method, target + request.path_qs, data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            return web.Response(status=upstream.status, body=payload, content_type=upstream.content_type)

    app = web.Application(client_max_size=1024**2)
    app.on_startup.append(start_session)
    app.on_cleanup.append(close_session)
    app.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
