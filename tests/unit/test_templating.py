"""What every page prints: values without the characters HTML forbids, markup kept as markup."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from app.web.templating import make_template_config, printable


def test_control_characters_and_noncharacters_are_dropped() -> None:
    assert printable("Zo\x1bë\x00 O'Brien\ufffe\x85") == "Zoë O'Brien"
    assert printable("a\U0001fffeb\U0010ffffc\U0010fffe\ufdd0") == "abc"  # every plane's noncharacters
    assert printable("\U0001f600 \U0010fffd") == "\U0001f600 \U0010fffd"  # the rest of a plane stays
    assert printable("line\nbreak\tand tab\r") == "line\nbreak\tand tab\r"  # allowed in HTML
    assert printable(42) == 42


def test_markup_stays_markup() -> None:
    cleaned = printable(Markup("<b>a\x07b</b>"))
    assert isinstance(cleaned, Markup)
    assert cleaned == Markup("<b>ab</b>")


def test_a_rendered_form_value_loses_its_control_characters(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text('<input value="{{ value }}">', encoding="utf-8")
    engine = make_template_config(tmp_path).engine_instance
    assert engine is not None
    rendered = engine.get_template("page.html").render(value="1\x1b<2")
    assert rendered == '<input value="1&lt;2">'
