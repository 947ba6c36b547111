"""The dashboard: a small Starlette app over the recorder's database, and a static page (plain JS/SVG).

    toolwire dashboard                       # http://127.0.0.1:8765
    toolwire dashboard --expose --host 0.0.0.0 --token "$(openssl rand -hex 16)"

It lists recorded conversations (filter by provider, model, errors) and draws one conversation as a
timeline: each model turn and each tool execution as a bar on a time axis (parallel tools overlap),
with arguments, results, tokens and errors on click, plus latency and tokens over time.

Safety: it binds to 127.0.0.1 and only answers requests addressed to localhost (no DNS rebinding);
listening elsewhere needs `expose=True` and a token, checked on every request (`?token=` once, then
a cookie, or `Authorization: Bearer`). Recorded data never holds credentials (see `recorder`), and
the page loads nothing from outside (strict Content-Security-Policy).

Needs `pip install "toolwire[dashboard]"` (starlette, uvicorn).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["STATIC", "create_app", "serve"]

STATIC = Path(__file__).resolve().parent / "static"
MISSING_EXTRA = 'the dashboard needs starlette and uvicorn: pip install "toolwire[dashboard]"'
_COOKIE = "toolwire_dashboard_token"


def _same(supplied: str, token: str) -> bool:
    # compare_digest refuses non-ASCII str (TypeError, a 500): compare the UTF-8 bytes (a 401)
    return secrets.compare_digest(supplied.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(
    db: str | os.PathLike[str] | None = None, *, token: str | None = None, local_only: bool = True
) -> Starlette:
    """The ASGI app. `local_only` rejects requests whose Host is not localhost (DNS rebinding)."""
    try:
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.middleware.trustedhost import TrustedHostMiddleware
        from starlette.requests import Request
        from starlette.responses import FileResponse, JSONResponse, Response
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles
        from starlette.types import ASGIApp, Receive, Scope, Send
    except ImportError:
        raise ConfigurationError(MISSING_EXTRA) from None

    from .._recorded_images import collect
    from ..image import SUPPORTED_MEDIA_TYPES, sniff_media_type
    from ..recorder import CallStore

    store = CallStore(db)

    def _with_images(event: dict[str, Any]) -> dict[str, Any]:
        # the thumbnails of an event: its stored image references, with where to fetch each
        images = collect([event.get("request"), event.get("response")])
        for image in images:
            if image.get("sha256"):
                image["src"] = f"api/images/{image['sha256']}"
        event["images"] = images
        return event

    def _flag(value: str | None) -> bool | None:
        if value in (None, "", "all"):
            return None
        return value in ("1", "true", "yes", "errors")

    def _int(value: str | None, default: int, high: int) -> int:
        try:
            return max(0, min(high, int(value))) if value is not None else default
        except ValueError:
            return default

    async def index(request: Request) -> Response:
        response: Response = FileResponse(STATIC / "index.html", media_type="text/html")
        supplied = request.query_params.get("token")
        if token is not None and supplied is not None and _same(supplied, token):
            response.set_cookie(_COOKIE, token, httponly=True, samesite="strict")
        return response

    def conversations(request: Request) -> Response:
        q = request.query_params
        rows = store.conversations(
            provider=q.get("provider") or None,
            model=q.get("model") or None,
            errors=_flag(q.get("errors")),
            limit=_int(q.get("limit"), 100, 1000),
            offset=_int(q.get("offset"), 0, 10**9),
        )
        return JSONResponse({"conversations": rows, "facets": store.facets(), "db": str(store.path)})

    def conversation(request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        events = store.events(conversation_id)
        if not events:
            return JSONResponse({"error": f"no conversation {conversation_id!r}"}, status_code=404)
        return JSONResponse({"conversation_id": conversation_id, "events": [_with_images(e) for e in events]})

    def event(request: Request) -> Response:
        found = store.event(request.path_params["event_id"])
        if found is None:
            return JSONResponse({"error": "no such event"}, status_code=404)
        return JSONResponse(_with_images(found))

    def image(request: Request) -> Response:
        sha256 = request.path_params["sha256"]
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            return JSONResponse({"error": "an image is named by its sha256 (64 hex digits)"}, status_code=404)
        found = store.image(sha256)
        if found is None:
            return JSONResponse({"error": "no such image"}, status_code=404)
        media_type, data = found
        # served only as the type its bytes really are, and only an image type (nosniff is set by
        # Guard): a stored row cannot make this endpoint serve HTML or script
        if media_type not in SUPPORTED_MEDIA_TYPES or sniff_media_type(data) != media_type:
            return JSONResponse({"error": "not a servable image"}, status_code=415)
        return Response(data, media_type=media_type, headers={"content-disposition": "inline"})

    def stats(request: Request) -> Response:
        q = request.query_params
        rows = store.recent(
            provider=q.get("provider") or None,
            model=q.get("model") or None,
            kind="chat",
            limit=_int(q.get("limit"), 200, 5000),
        )
        points = [
            {
                "started": r["started"],
                "duration_ms": r["duration_ms"],
                "input_tokens": r["input_tokens"],
                "output_tokens": r["output_tokens"],
                "status": r["status"],
                "model": r["model"],
                "conversation_id": r["conversation_id"],
            }
            for r in reversed(rows)
        ]
        return JSONResponse({"points": points})

    def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    class Guard:
        """Token check and defensive headers on every response."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            if token is not None and not _authorized(Request(scope)):
                response = JSONResponse({"error": "a valid token is required (?token=...)"}, status_code=401)
                await response(scope, receive, send)
                return

            async def send_with_headers(message: Any) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers += [
                        (
                            b"content-security-policy",
                            b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                        ),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"),
                        (b"cache-control", b"no-store"),
                    ]
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_headers)

    def _authorized(request: Request) -> bool:
        assert token is not None
        candidates = [
            request.query_params.get("token"),
            request.cookies.get(_COOKIE),
        ]
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            candidates.append(auth[7:].strip())
        return any(c is not None and _same(c, token) for c in candidates)

    middleware = [Middleware(Guard)]
    if local_only:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]))
    routes = [
        Route("/", index),
        Route("/api/conversations", conversations),
        Route("/api/conversations/{conversation_id:path}", conversation),
        Route("/api/events/{event_id}", event),
        Route("/api/images/{sha256}", image),
        Route("/api/stats", stats),
        Route("/healthz", health),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware)


def serve(
    *,
    db: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    expose: bool = False,
    open_browser: bool = False,
    print_fn: Any = print,
) -> None:
    """Run the dashboard with uvicorn until interrupted."""
    loopback = _is_loopback(host)
    if not loopback and not expose:
        raise ConfigurationError(
            f"refusing to serve recorded calls on {host}: the dashboard binds to 127.0.0.1 unless you pass "
            "--expose (and a --token)"
        )
    if not loopback and not token:
        token = secrets.token_urlsafe(18)
        print_fn("no --token given for an exposed dashboard: generated one (keep it secret)")
    try:
        import uvicorn
    except ImportError:
        raise ConfigurationError(MISSING_EXTRA) from None
    app = create_app(db, token=token, local_only=loopback)
    shown = "127.0.0.1" if host in _LOCAL_HOSTS else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    from ..recorder import CallStore

    print_fn(f"toolwire dashboard on {url}  (database: {CallStore(db).path}; Ctrl-C stops)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
