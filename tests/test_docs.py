"""Generated documentation stays what the code generates."""

from __future__ import annotations

from kgsynth.docs import CLI_DOC, render_cli_docs


def test_cli_reference_matches_the_cli() -> None:
    """Fails when a command, option, help text or config default changed without `python -m kgsynth.docs`."""
    assert CLI_DOC.read_text(encoding="utf-8") == render_cli_docs(), "run `python -m kgsynth.docs` to regenerate"


def test_cli_reference_covers_every_command_and_its_defaults() -> None:
    from kgsynth.cli import app
    from kgsynth.questions.question import GenerateConfig

    text = render_cli_docs()
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        assert f"## `kgsynth {name}`" in text
    assert "--config" in text and f"hub_cap: {GenerateConfig().hub_cap}" in text
