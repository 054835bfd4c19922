"""The command line's frame: the typer app, the error handler (a message and a hint, no traceback), -v."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from kgsynth.errors import KgsynthError, foreign_error

app = typer.Typer(
    name="kgsynth",
    help="Turn medical knowledge graphs into verifiable reasoning data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# Piped output is not cut at 80 columns: a terminal's width where there is one (or $COLUMNS), else wide enough.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 1000)


err = Console(stderr=True)


logger = logging.getLogger("kgsynth")


F = TypeVar("F", bound=Callable[..., Any])


def report_error(exc: KgsynthError) -> None:
    """One ``error:`` line (and its hint) on stderr."""
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)


def user_errors(fn: F) -> F:
    """Report a :class:`KgsynthError` as a message and a non-zero exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KgsynthError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            # A library's error that stands for bad input or an unreachable server (foreign_error); a bug
            # keeps its traceback. -v logs the traceback of what is reported.
            user = foreign_error(exc)
            if user is None:
                raise
            logger.info("reported as a user error", exc_info=True)
            report_error(user)
            raise typer.Exit(user.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted; what was written so far is intact, re-run to continue")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]


@app.callback()
def main(verbose: VerboseOpt = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def set_verbose(verbose: bool) -> None:
    """``COMMAND -v``: the same as ``kgsynth -v COMMAND``."""
    if verbose:
        logging.getLogger().setLevel(logging.INFO)
