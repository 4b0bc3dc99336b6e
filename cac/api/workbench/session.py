"""Workbench sign-in: a signed, expiring session cookie and the CSRF token it carries.

The cookie holds the key's id, name and role, an expiry and a random CSRF token, as base64url
JSON with an HMAC-SHA256 signature; never the API key. It is HttpOnly and SameSite=Strict, and
Secure when the request came over TLS (``https``, also behind a proxy that uvicorn trusts with
``--proxy-headers``). Every request re-checks that the key is still active, so revoking a key
ends its sessions. Form posts and htmx requests carry the CSRF token (a form field or the
``X-CSRF-Token`` header); the sign-in form has its own token in a short-lived cookie, so a
page elsewhere cannot sign a browser in with an attacker's key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cac.config import Settings
from cac.db.keys import Role

SESSION_COOKIE = "cac_session"
LOGIN_COOKIE = "cac_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_SECONDS = 15 * 60
COOKIE_PATH = "/workbench"


@dataclass(frozen=True, slots=True)
class WorkbenchSession:
    """A signed-in coder: who (the key's name, recorded as the actor), which key and role, until
    when, and the CSRF token of the session."""

    key_id: int
    name: str
    role: Role
    expires: int
    csrf: str


class Signer:
    """Signs and checks small JSON payloads with HMAC-SHA256."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, payload: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        text = body.decode().rstrip("=")
        return f"{text}.{self._mac(text)}"

    def unsign(self, token: str) -> dict[str, Any] | None:
        """The payload of a token this signer made, or None for anything else."""
        text, _, mac = token.rpartition(".")
        if not text or not hmac.compare_digest(mac, self._mac(text)):
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            payload = json.loads(raw)
        except (binascii.Error, ValueError):
            return None
        return payload if isinstance(payload, dict) else None

    def _mac(self, text: str) -> str:
        digest = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def load_secret(settings: Settings) -> bytes:
    """``CAC_SESSION_SECRET``, else the secret file under ``CAC_HOME`` (made on first use)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    path = settings.home / "session.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = None
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, secrets.token_hex(32).encode())
        except FileExistsError:
            pass  # another process made it first
        finally:
            if fd is not None:
                os.close(fd)
    return Path(path).read_bytes().strip()


class Sessions:
    """Makes and reads the session and sign-in cookies' values."""

    def __init__(self, secret: bytes, lifetime_seconds: int) -> None:
        self._signer = Signer(secret)
        self.lifetime = lifetime_seconds

    def issue(self, key_id: int, name: str, role: Role) -> tuple[str, WorkbenchSession]:
        session = WorkbenchSession(
            key_id, name, role, int(time.time()) + self.lifetime, secrets.token_urlsafe(24)
        )
        payload = {
            "k": session.key_id,
            "n": session.name,
            "r": session.role.value,
            "e": session.expires,
            "c": session.csrf,
        }
        return self._signer.sign({"t": "session", **payload}), session

    def read(self, token: str | None) -> WorkbenchSession | None:
        """The session of a cookie value: signed by us, not expired; None otherwise."""
        payload = self._signer.unsign(token) if token else None
        if payload is None or payload.get("t") != "session":
            return None
        try:
            session = WorkbenchSession(
                int(payload["k"]),
                str(payload["n"]),
                Role(payload["r"]),
                int(payload["e"]),
                str(payload["c"]),
            )
        except (KeyError, ValueError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def login_token(self) -> tuple[str, str]:
        """``(cookie value, csrf token)`` for the sign-in form."""
        csrf = secrets.token_urlsafe(24)
        payload = {"t": "login", "c": csrf, "e": int(time.time()) + LOGIN_SECONDS}
        return self._signer.sign(payload), csrf

    def login_csrf(self, token: str | None) -> str | None:
        """The CSRF token a sign-in cookie carries, while it is valid."""
        payload = self._signer.unsign(token) if token else None
        if payload is None or payload.get("t") != "login":
            return None
        expires = payload.get("e")
        if not isinstance(expires, int) or expires <= time.time():
            return None
        csrf = payload.get("c")
        return csrf if isinstance(csrf, str) else None


def same_token(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
