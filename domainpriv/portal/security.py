"""Browser-facing protections: security headers on every answer, and double-submit CSRF for every form.

CSRF (toolchain.md §10): a random token in a cookie and the same token in a hidden field of every form; a POST
is accepted only when both are present and equal (compared in constant time), and, where the browser says where
the request came from (`Sec-Fetch-Site`, `Origin`), only from this site. The pages need no JavaScript for it.
Login replaces both the session cookie and the CSRF token (no session fixation).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domainpriv.accounts import tokens

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # reset and unsubscribe links carry their token in the path
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """Adds HEADERS (and HSTS behind TLS) to every response; personal pages are never cached."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self.extra = HEADERS + (((b"strict-transport-security", b"max-age=31536000"),) if tls else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in self.extra if h[0] not in present]
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Cookies:
    """The names and attributes of the portal's two cookies (`__Host-` prefixed behind TLS)."""

    def __init__(self, *, secure: bool) -> None:
        prefix = "__Host-" if secure else ""
        self.secure = secure
        self.session = prefix + "dp_session"
        self.csrf = prefix + "dp_csrf"

    def attributes(self, *, same_site: str) -> dict[str, Any]:
        return {"httponly": True, "secure": self.secure, "samesite": same_site, "path": "/"}


def csrf_token(request: Request, cookies: Cookies) -> tuple[str, bool]:
    """The request's CSRF token, and whether it is new (then the caller sets the cookie)."""
    current = request.cookies.get(cookies.csrf, "")
    if tokens.looks_like_token(current):
        return current, False
    return tokens.new_token(), True


def csrf_ok(request: Request, cookies: Cookies, submitted: str | None, *, own_origin: str) -> bool:
    """A form POST is genuine: same-site by the browser's word (where it says) and the double-submit matches."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null" and origin != own_origin:
        return False
    cookie = request.cookies.get(cookies.csrf, "")
    return bool(submitted) and bool(cookie) and hmac.compare_digest(cookie.encode(), str(submitted).encode())


def origin_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"
