"""The HTTP edge every Scoreline service shares, as one pure ASGI middleware run before routing and body parsing.

For each request it finds the route and, in this order:

1. **access** — who may call it (``route_access``, the one place that decides): a route that depends on
   ``require_api_key``/``require_admin_key`` needs that key; the always-public paths (``/healthz``, ``/readyz``,
   the OpenAPI document and its pages) and routes a service marks public (``mark_access``: predict, schema,
   the HMAC-signed webhook) need none; every other read (GET) needs the API or admin key unless
   ``SCORELINE_PUBLIC_READS`` is on. The key is checked before a byte of the body is read, so a malformed
   body without a key is a 401, never a 422.
2. **media type** — a request with a body must have one of the media types the route documents in its
   OpenAPI ``requestBody`` (JSON routes: ``application/json``; uploads: ``multipart/form-data``); else 415.
3. **size and nesting** — the body is counted as it arrives: a declared or streamed length over
   ``SCORELINE_MAX_JSON_BYTES`` (uploads: the service's upload limit) is answered 413 at once, and JSON nested
   deeper than ``SCORELINE_MAX_JSON_DEPTH`` is answered 422 before any parser sees it (no ``RecursionError``).

The same ``route_access`` declares the bearer security scheme and each operation's ``security`` and error
responses in the OpenAPI document (``install_openapi``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoreline.core.errors import ErrorCode, ScorelineError

# "write": a non-GET route whose key dependency is not marked: the edge wants the API or the admin key, and the
# route's own dependency decides which.
Access = Literal["public", "predict", "read", "write", "api", "admin", "signed"]
ACCESS_ATTR = "scoreline_access"
ALWAYS_PUBLIC = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
JSON_TYPES = ("application/json",)
MULTIPART = "multipart/form-data"
SECURITY_SCHEME = "bearerAuth"
DEFAULT_MAX_JSON_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 64
_MULTIPART_OVERHEAD = 1024 * 1024


KeyGetter = Callable[[], SecretStr | None]


def requires(level: Access, key: KeyGetter | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a FastAPI dependency as the key check of ``level`` (the edge checks it before the body is read), with
    the key it compares against (default: the service settings' ``api_key`` / ``admin_key``)."""

    def mark(dependency: Callable[..., Any]) -> Callable[..., Any]:
        setattr(dependency, ACCESS_ATTR, (level, key))
        return dependency

    return mark


def mark_access(app: FastAPI, path: str, level: Access) -> None:
    """Declare the access of the routes at ``path`` (e.g. ``public`` for schema, ``signed`` for a webhook)."""
    overrides: dict[str, Access] | None = getattr(app.state, "access_overrides", None)
    if overrides is None:
        overrides = app.state.access_overrides = {}
    overrides[path] = level


def _overrides(app: Any) -> dict[str, Access]:
    return getattr(app.state, "access_overrides", {})


def route_access(app: Any, route: Any, method: str) -> Access:
    """Who may call ``method`` on ``route``; the one decision the edge and the OpenAPI document share: a key
    dependency's level, else the path's mark, else ``read`` for GET and ``write`` for anything else."""
    return _route_access(app, route, method)[0]


def _route_access(app: Any, route: Any, method: str) -> tuple[Access, KeyGetter | None]:
    path = getattr(route, "path", "")
    if path in ALWAYS_PUBLIC:
        return "public", None
    marked = _dependency_access(route)
    if marked is not None:
        return marked
    override = _overrides(app).get(path)
    if override is not None:
        return override, None
    return ("read" if method in ("GET", "HEAD") else "write"), None


def _dependency_access(route: Any) -> tuple[Access, KeyGetter | None] | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    stack = list(dependant.dependencies)
    found: tuple[Access, KeyGetter | None] | None = None
    while stack:
        dep = stack.pop()
        marked = getattr(dep.call, ACCESS_ATTR, None)
        if marked is not None and marked[0] == "admin":
            return marked
        if marked is not None:
            found = marked
        stack.extend(dep.dependencies)
    return found


def _body_media_types(route: Any) -> tuple[str, ...] | None:
    """The media types the route's OpenAPI ``requestBody`` documents; None when it takes no body."""
    extra = getattr(route, "openapi_extra", None) or {}
    content = extra.get("requestBody", {}).get("content")
    if content:
        return tuple(content)
    body_field = getattr(route, "body_field", None)
    if body_field is None:
        return None
    from fastapi import params

    info = getattr(body_field, "field_info", None)
    if isinstance(info, params.Form | params.File):
        return (MULTIPART,)
    return JSON_TYPES


def flat_routes(app: Any) -> list[Any]:
    """Every route of ``app`` with its effective path, methods and dependencies: FastAPI keeps an included router
    as one entry (``_IncludedRouter``) whose routes are its ``effective_route_contexts``."""
    cached = getattr(app.state, "edge_routes", None)
    if cached is not None and cached[0] == len(app.router.routes):
        return cached[1]
    routes: list[Any] = []
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        routes.extend(contexts() if contexts is not None else [route])
    app.state.edge_routes = (len(app.router.routes), routes)
    return routes


def _media_type(headers: dict[bytes, bytes]) -> str:
    return headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()


class _Rejected(Exception):
    def __init__(self, error: ScorelineError) -> None:
        self.error = error


class DepthScanner:
    """Counts JSON nesting as bytes arrive, strings and escapes skipped; raises past ``max_depth``."""

    _TOKENS = re.compile(rb'[\[\]{}"\\]')

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.skip_next = False  # a backslash ended the previous chunk

    def feed(self, chunk: bytes) -> None:
        skip_at = 0 if self.skip_next else -1
        self.skip_next = False
        for match in self._TOKENS.finditer(chunk):
            pos = match.start()
            if pos == skip_at:
                continue
            char = chunk[pos]
            if self.in_string:
                if char == 0x5C:  # backslash: the next byte is escaped
                    if pos + 1 >= len(chunk):
                        self.skip_next = True
                    skip_at = pos + 1
                elif char == 0x22:
                    self.in_string = False
            elif char == 0x22:
                self.in_string = True
            elif char in (0x5B, 0x7B):
                self.depth += 1
                if self.depth > self.max_depth:
                    raise _Rejected(
                        ScorelineError(
                            ErrorCode.INVALID_INPUT,
                            f"the JSON body is nested deeper than {self.max_depth} levels "
                            "(SCORELINE_MAX_JSON_DEPTH); expected a flat request object",
                            {"max_depth": self.max_depth},
                        )
                    )
            elif char in (0x5D, 0x7D):
                self.depth -= 1

    def check_whole(self, body: bytes) -> None:
        """``feed`` of a body read in full, raising its ``ScorelineError``. A body with no more opening brackets
        than the limit cannot nest deeper, so it is counted in C and not scanned."""
        if body.count(b"[") + body.count(b"{") <= self.max_depth:
            return
        try:
            self.feed(body)
        except _Rejected as rejected:
            raise rejected.error from None


def too_large(limit: int, seen: int, what: str) -> ScorelineError:
    return ScorelineError(
        ErrorCode.TOO_LARGE,
        f"the request body is larger than the limit of {limit} bytes for {what}; send less per request",
        {"max_bytes": limit, "bytes_seen": seen},
    )


def _key(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def check_bearer(headers: dict[bytes, bytes], accepted: Iterable[tuple[str, str | None]]) -> None:
    """Raise 401/403 unless ``Authorization: Bearer`` carries one of ``accepted`` (name, key) keys."""
    keys = [(name, key) for name, key in accepted if key]
    names = " or ".join(name for name, _ in accepted)
    if not keys:
        raise ScorelineError(
            ErrorCode.FORBIDDEN,
            f"this route needs the {names}, and the server has none configured (set SCORELINE_"
            f"{next(iter(accepted))[0].upper().replace(' ', '_')})",
        )
    header = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ScorelineError(ErrorCode.UNAUTHORIZED, f"expected header 'Authorization: Bearer <{names}>'")
    matched = False
    for _, key in keys:  # every key compared: timing does not tell which one exists
        matched |= hmac.compare_digest(token.encode(), key.encode())
    if not matched:
        raise ScorelineError(ErrorCode.FORBIDDEN, f"the bearer token is not the {names}")


def access_keys(settings: Any, level: Access, key: KeyGetter | None = None) -> list[tuple[str, str | None]] | None:
    """The keys accepted for ``level`` (None: no key needed) under the service's settings; ``key`` is the route
    dependency's own key, when it names one."""
    api = ("api key", _key(key() if key is not None else getattr(settings, "api_key", None)))
    admin = ("admin key", _key(key() if key is not None else getattr(settings, "admin_key", None)))
    if level in ("public", "signed"):
        return None
    if level == "predict":
        return [api] if getattr(settings, "require_api_key_for_predictions", False) else None
    if level == "read":
        return None if getattr(settings, "public_reads", False) else [api, admin]
    if level == "write":
        return [api, admin]
    if level == "admin":
        return [admin]
    return [api]


def admit(
    settings: Any,
    headers: dict[bytes, bytes],
    access: Access,
    key: KeyGetter | None,
    media_types: tuple[str, ...] | None,
) -> tuple[int | None, DepthScanner | None, str]:
    """The edge's checks before a byte of the body is read: the route's key (401/403), the body's media type and
    content encoding (415) and its declared size (413), raised as ``ScorelineError``. Returns the body's byte limit
    (None: no body), the nesting scanner of a JSON body and what the limit is for."""
    keys = access_keys(settings, access, key)
    if keys is not None:
        check_bearer(headers, keys)
    declared = headers.get(b"content-length", b"")
    has_body = (declared.isdigit() and int(declared) > 0) or b"transfer-encoding" in headers
    if not has_body:
        return None, None, ""
    encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
    if encoding not in ("", "identity"):
        # A compressed body would be parsed as if plain (JSON garbage, or worse, a plain body answered as if it had
        # been decoded); the size limits count the bytes as sent, so decoding them here would be unbounded.
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"unsupported content encoding {encoding!r}; "
            "expected an uncompressed body (no Content-Encoding, or identity)",
            {"field": "Content-Encoding", "expected": ["identity"]},
        )
    media = _media_type(headers)
    if media_types is None:
        media_types = JSON_TYPES  # a body where none is documented is still counted as JSON
    elif media not in media_types:
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"unsupported content type {media or 'none'!r}; expected {' or '.join(media_types)}",
            {"field": "Content-Type", "expected": list(media_types)},
        )
    if media == MULTIPART:
        upload = getattr(settings, "max_upload_bytes", None)
        limit = None if upload is None else upload + _MULTIPART_OVERHEAD
        scanner, what = None, "uploads (SCORELINE_MAX_UPLOAD_BYTES)"
    else:
        limit = getattr(settings, "max_json_bytes", DEFAULT_MAX_JSON_BYTES)
        scanner = DepthScanner(getattr(settings, "max_json_depth", DEFAULT_MAX_JSON_DEPTH))
        what = "JSON bodies (SCORELINE_MAX_JSON_BYTES)"
    if limit is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit, int(declared), what)
    return limit, scanner, what


_PATH_CACHE_SIZE = 4096


class HttpEdge:
    """The edge middleware (see the module docstring); reads the service's settings from ``app.state.settings``."""

    def __init__(self, app: ASGIApp, render: Callable[[ScorelineError], tuple[int, bytes, list[tuple[bytes, bytes]]]]):
        self.app = app
        self.render = render
        self._cache: dict[tuple[int, str], tuple[tuple[Access, KeyGetter | None], tuple[str, ...] | None]] = {}
        # (method, path) → the route's decision: one dict lookup per request instead of a regex per route. Bounded,
        # since paths with parameters are as many as the callers send.
        self._by_path: dict[tuple[str, str], tuple[tuple[Access, KeyGetter | None], tuple[str, ...] | None]] = {}

    def _route(self, app: Any, scope: Scope) -> tuple[tuple[Access, KeyGetter | None], tuple[str, ...] | None] | None:
        method = scope["method"]
        path = scope["path"]
        for route in flat_routes(app):
            regex = getattr(route, "path_regex", None)
            methods = getattr(route, "methods", None) or set()
            if (
                regex is None
                or not regex.match(path)
                or (method not in methods and not (method == "HEAD" and "GET" in methods))
            ):
                continue
            key = (id(route), method)
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = (_route_access(app, route, method), _body_media_types(route))
            return found
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None)
        found = self._by_path.get((scope["method"], scope["path"])) if app is not None else None
        if found is None and app is not None:
            found = self._route(app, scope)
            if found is not None and len(self._by_path) < _PATH_CACHE_SIZE:
                self._by_path[(scope["method"], scope["path"])] = found
        if found is None:  # unknown path or method: the app answers 404/405
            await self.app(scope, receive, send)
            return
        (access, key), media_types = found
        try:
            limit, scanner, what = admit(settings, dict(scope["headers"]), access, key, media_types)
        except ScorelineError as exc:
            await self._send_error(send, exc)
            return
        if limit is None:
            await self.app(scope, receive, send)
            return
        await self._guarded(scope, receive, send, limit, scanner, what)

    async def _guarded(
        self, scope: Scope, receive: Receive, send: Send, limit: int | None, scanner: DepthScanner | None, what: str
    ) -> None:
        received = 0
        rejected: list[ScorelineError] = []
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                try:
                    if limit is not None and received > limit:
                        raise _Rejected(too_large(limit, received, what))
                    if scanner is not None and chunk:
                        scanner.feed(chunk)
                except _Rejected as exc:
                    rejected.append(exc.error)
                    if not started:
                        await self._send_error(send, exc.error)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the edge already answered
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not rejected:
                raise  # the app's own failure: its error handlers and the server's log see it

    async def _send_error(self, send: Send, error: ScorelineError) -> None:
        status, body, extra = self.render(error)
        start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": start_headers + extra})
        await send({"type": "http.response.body", "body": body})


# ---- OpenAPI: the security scheme and each operation's security and error responses -------------------------
_PROBLEM = {
    "description": "",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
_WHY = {
    401: "no bearer key",
    403: "wrong key, or the server has none configured",
    404: "unknown task, dataset, version, job or run",
    409: "the state does not allow it",
    413: "the body is over the size limit",
    415: "the body's media type is not one this route takes",
    422: "the request does not match what was expected",
    502: "a remote answered badly",
    503: "a dependency is down or the service is starting; try again (Retry-After)",
    504: "a remote did not answer in time",
}


def install_openapi(app: FastAPI, extra_statuses: dict[str, dict[str, Iterable[int]]] | None = None) -> None:
    """Wrap ``app.openapi``: bearer security scheme, per-operation ``security`` from ``route_access``, and the
    domain error statuses each operation may answer (``extra_statuses[path][method]`` adds route-specific ones)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "SCORELINE_API_KEY (writes, closed reads) or SCORELINE_ADMIN_KEY (admin routes)",
        }
        components.setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
        settings = getattr(app.state, "settings", None)
        for route in flat_routes(app):
            if getattr(route, "dependant", None) is None or not getattr(route, "include_in_schema", False):
                continue
            for method in route.methods:
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                access, key = _route_access(app, route, method)
                keyed = access_keys(settings, access, key) is not None
                operation["security"] = [{SECURITY_SCHEME: []}] if keyed else []
                operation["x-scoreline-access"] = access  # which key: "api", "admin", "read" (either), ...
                statuses = {422, 503}
                if keyed or access == "signed":
                    statuses |= {401, 403}
                has_body = _body_media_types(route) is not None
                if operation.get("parameters") or has_body:  # an unknown task, dataset, version, job or run
                    statuses.add(404)
                if has_body:
                    statuses |= {413, 415}
                if method not in ("GET", "HEAD"):  # a write the current state refuses (a full queue, a finished job)
                    statuses.add(409)
                statuses |= set((extra_statuses or {}).get(route.path_format, {}).get(method, ()))
                responses = operation.setdefault("responses", {})
                for status in sorted(statuses):
                    entry = responses.setdefault(str(status), {"description": _WHY[status]})
                    entry["content"] = _PROBLEM["content"]  # every error is a Problem (FastAPI's 422 too)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
