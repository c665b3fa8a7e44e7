"""Static files under ASGI (WhiteNoise through the shop's async middleware), and the favicon."""

import asyncio
import io
import warnings
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from shop.middleware import STATIC_BLOCK_SIZE, _file_blocks

ROOT = Path(__file__).resolve().parents[2]
STYLESHEET = ROOT / "static" / "css" / "shop.css"


async def asgi_get(path: str, method: str = "GET", headers: list | None = None) -> tuple[int, dict, bytes]:
    """Send one request through the shop's real ASGI application; return status, headers, body."""
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []
    requested = False

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the response is sent
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    response_headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], response_headers, body


def fetch(path: str, **options) -> tuple[tuple[int, dict, bytes], list[str]]:
    """Return the ASGI answer for `path` and every warning raised while serving it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = async_to_sync(asgi_get)(path, **options)
    return answer, [str(warning.message) for warning in caught]


def test_a_static_file_is_served_under_asgi_without_the_sync_iterator_warning():
    (status, headers, body), raised = fetch("/static/css/shop.css")
    assert status == 200
    assert body == STYLESHEET.read_bytes()
    assert headers["content-type"].startswith("text/css")
    assert int(headers["content-length"]) == len(body)
    assert [message for message in raised if "StreamingHttpResponse" in message] == []


def test_head_and_range_requests_for_a_static_file_under_asgi():
    (status, headers, body), raised = fetch("/static/css/shop.css", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == STYLESHEET.stat().st_size
    (status, headers, body), more = fetch("/static/css/shop.css", headers=[(b"range", b"bytes=0-9")])
    assert (status, body) == (206, STYLESHEET.read_bytes()[:10])
    assert [message for message in raised + more if "StreamingHttpResponse" in message] == []


def test_a_large_file_is_streamed_in_blocks_to_its_end():
    content = bytes(range(256)) * (3 * STATIC_BLOCK_SIZE // 256) + b"tail"
    file = io.BytesIO(content)

    async def read_all() -> list[bytes]:
        return [block async for block in _file_blocks(file, file.read(STATIC_BLOCK_SIZE))]

    blocks = async_to_sync(read_all)()
    assert b"".join(blocks) == content
    assert [len(block) for block in blocks] == [STATIC_BLOCK_SIZE] * 3 + [4]


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_shops_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"


@pytest.mark.django_db
def test_admin_pages_name_the_icon(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Site administration" in page
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in page
