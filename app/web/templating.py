"""The Jinja environment that renders every Signpost page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

#: The package of GOV.UK Frontend macros, which is also the prefix their own imports expect.
GOVUK_MACROS = "govuk_frontend_jinja"
_UK = ZoneInfo("Europe/London")
#: Characters no HTML document may contain (control characters but tab and line breaks, and
#: Unicode noncharacters: U+FDD0 to U+FDEF, and the last two code points of each of the 17
#: planes), to delete: a form value shown again could carry them.
_NOT_IN_HTML = dict.fromkeys(
    [
        *range(0x09),
        0x0B,
        0x0C,
        *range(0x0E, 0x20),
        *range(0x7F, 0xA0),
        *range(0xFDD0, 0xFDF0),
        *(plane * 0x10000 + last for plane in range(17) for last in (0xFFFE, 0xFFFF)),
    ]
)


def uk_time(moment: datetime) -> str:
    """A moment as people in the UK read it: "24 November 2026, 9:00am"."""
    local = moment.astimezone(_UK)
    return f"{local.day} {local:%B %Y}, {local.hour % 12 or 12}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def printable(value: object) -> object:
    """Jinja's ``finalize``: every value a template prints, without characters HTML forbids
    (``Markup.translate`` keeps escaped markup markup)."""
    return value.translate(_NOT_IN_HTML) if isinstance(value, str) else value


def make_template_config(templates_dir: Path, *, reload: bool = True) -> TemplateConfig[JinjaTemplateEngine]:
    """Templates from ``templates_dir``, plus the GOV.UK Frontend macros under their own prefix.

    Autoescape is on for every template, whatever its extension. Undefined values render empty, as
    Jinja's default: the GOV.UK macros (ports of Nunjucks) rely on missing options being empty, and
    every page our tests render passes the page checks in tests/pagecheck.py. The macros
    are imported by their package's own paths, e.g.
    ``{% from "govuk_frontend_jinja/components/button/macro.html" import govukButton %}``.
    Litestar's engine adds the ``csrf_token()``, ``url_for()`` and ``url_for_static_asset()``
    globals; each response adds ``request`` and ``csrf_input`` (markup: use ``|safe``) to the context.
    With ``reload`` off (production) a template is read once, not checked for changes at every use.
    Every printed value passes through :func:`printable`, so a control character typed into a
    form never reaches the page.
    """
    environment = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(templates_dir),
                PrefixLoader({GOVUK_MACROS: PackageLoader(GOVUK_MACROS)}),
            ]
        ),
        autoescape=True,
        finalize=printable,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=reload,
    )
    environment.filters["uk_time"] = uk_time
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))
