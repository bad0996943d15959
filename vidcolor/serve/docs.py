"""The API's reference page, ``/docs``: Swagger UI from the copy the fastapi-offline package keeps, served by this
server (FastAPI's own page loads it from a CDN: blank on a network without the internet), and like every route
behind the token, as is ``/openapi.json``."""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
_STATIC = files("fastapi_offline") / "static"


def add_docs(app: FastAPI) -> None:
    """``/docs``, its assets under ``/docs/``, and ``/openapi.json`` on ``app`` (whose dependencies guard them).
    Create ``app`` with ``docs_url``, ``redoc_url`` and ``openapi_url`` None: FastAPI's own would be unguarded."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        query = _token_query(request)
        return get_swagger_ui_html(openapi_url=f"/openapi.json{query}", title=f"{app.title} API",
                                   swagger_js_url=f"/docs/swagger-ui-bundle.js{query}",
                                   swagger_css_url=f"/docs/swagger-ui.css{query}",
                                   swagger_favicon_url=f"/docs/favicon.png{query}")  # fmt: skip

    @app.get("/docs/{asset}", include_in_schema=False)
    def docs_asset(asset: str) -> Response:
        if asset not in ASSETS:
            raise HTTPException(404, f"no {asset} here")
        return Response((_STATIC / asset).read_bytes(), media_type=ASSETS[asset],
                        headers={"Cache-Control": "max-age=86400"})  # fmt: skip


def _token_query(request: Request) -> str:
    """``?token=…`` for the URLs the page loads (a browser sends no Authorization header for them), where the
    page itself was given a token."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given if scheme.lower() == "bearer" else request.query_params.get("token", "")
    return f"?token={quote(given, safe='')}" if given else ""
