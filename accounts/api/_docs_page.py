"""The ``/v1/docs`` page with Swagger UI's script and style served by the API itself.

FastAPI's own docs page loads them from a public CDN; on the offline networks of banks and
government offices that page stays white. The ``fastapi-offline`` package ships the same assets,
so the page needs nothing but this server. ReDoc is not served.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_URL = "/v1/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, openapi_url: str) -> None:
    """Serve the docs page at :data:`DOCS_URL` and its assets under :data:`ASSETS_URL`."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    async def docs_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    app.add_api_route(DOCS_URL, docs_page, methods=["GET"], include_in_schema=False)
