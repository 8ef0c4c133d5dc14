"""Bearer-token auth: an ``Authorization`` header for programs, a cookie for browsers.

A browser gets the cookie from the login form at ``/login``, or by opening any page with
``?token=TOKEN`` once (the page redirects to itself without it). The cookie is HttpOnly and
SameSite=Strict, so other sites cannot send requests with it.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlencode

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

COOKIE = "autoblur_token"
_bearer = HTTPBearer(auto_error=False, description="The AUTOBLUR_TOKEN of the server.")


class LoginRequired(Exception):
    """A page was opened without a valid token: the browser goes to the login form.

    Args:
        target: where to send the browser (the login form, or the page without ``?token=``).
        token: a valid token to store in the cookie on the way, if one was given.
    """

    def __init__(self, target: str, token: str | None = None) -> None:
        super().__init__(target)
        self.target = target
        self.token = token


def token_ok(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the server's token (constant-time); always true with no token."""
    if expected is None:
        return True
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """API dependency: the bearer token, or the browser's cookie; 401 otherwise."""
    given = credentials.credentials if credentials is not None else request.cookies.get(COOKIE)
    if not token_ok(request.app.state.settings.token, given):
        raise HTTPException(
            401,
            "missing or wrong token: send 'Authorization: Bearer TOKEN' with the server's "
            "AUTOBLUR_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_page_token(request: Request) -> None:
    """Page dependency: the cookie, or ``?token=``, else a redirect to the login form."""
    expected = request.app.state.settings.token
    query_token = request.query_params.get("token")
    if query_token is not None and token_ok(expected, query_token):
        rest = {k: v for k, v in request.query_params.items() if k != "token"}
        raise LoginRequired(request.url.path + (f"?{urlencode(rest)}" if rest else ""), query_token)
    if not token_ok(expected, request.cookies.get(COOKIE)):
        raise LoginRequired("/login?" + urlencode({"next": request.url.path}))


def safe_next(target: str | None) -> str:
    """A redirect target on this server only (no ``//host`` or absolute URL)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
