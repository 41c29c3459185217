"""The start page."""

from __future__ import annotations

from litestar import get
from litestar.response import Template


@get("/", sync_to_thread=False)
def start_page() -> Template:
    return Template(template_name="home/index.html")
