"""Errors a user can act on: which file, which line, what was expected, what to do."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class KgsynthError(Exception):
    """Base class for every error kgsynth reports to a user (the CLI prints it without a traceback)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class SourceFormatError(KgsynthError):
    """A line of a source file is not what its format requires."""

    def __init__(
        self,
        path: str | Path,
        line: int | None,
        expected: str,
        *,
        found: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        message = f"{where}: expected {expected}"
        if found is not None:
            shown = found if len(found) <= 120 else found[:117] + "..."
            message += f", found {shown!r}"
        super().__init__(
            message,
            hint=hint or "fix or remove that line, or point kgsynth at an unmodified copy of the release",
        )
        self.path = str(path)
        self.line = line
        self.expected = expected


class MissingSourceFileError(KgsynthError):
    """A file a source needs does not exist."""

    def __init__(self, path: str | Path, source: str, how_to_obtain: str) -> None:
        super().__init__(
            f"source {source!r} needs {path}, which does not exist",
            hint=how_to_obtain,
        )
        self.path = str(path)
        self.source = source


class UnknownNameError(KgsynthError):
    """A name (source, schema, backend, ...) that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown {kind} {name!r}",
            hint=f"known {kind}s: {', '.join(sorted(known))}",
        )
        self.name = name
        self.known = sorted(known)


class SourceReadError(KgsynthError):
    """A source file exists but cannot be read as a file (a folder, no permission, an I/O error)."""

    def __init__(self, path: str | Path, problem: str, *, hint: str) -> None:
        super().__init__(f"cannot read {path}: {problem}", hint=hint)
        self.path = str(path)


class StorageError(KgsynthError):
    """A graph cannot be written where kgsynth was told to keep it (read-only folder, disk full, ...)."""

    def __init__(self, path: str | Path, problem: str, *, hint: str) -> None:
        super().__init__(f"cannot write {path}: {problem}", hint=hint)
        self.path = str(path)


class CorruptGraphError(KgsynthError):
    """A stored or cached graph that cannot be read back (a damaged or half-copied file)."""

    def __init__(self, path: str | Path, problem: str, *, hint: str) -> None:
        super().__init__(f"cannot read the stored graph in {path}: {problem}", hint=hint)
        self.path = str(path)


class DamagedSourceError(KgsynthError):
    """The sources loaded without a malformed line, but what they yield is clearly broken (most edges lost,
    a file that contributes nothing, one id given two categories by the same source)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def validation_message(exc: Any, *, names: Mapping[str, str] | None = None) -> str:
    """One line for a pydantic ``ValidationError``: the field (or the option ``names`` maps it to), what was
    wrong and what was found, never pydantic's multi-line dump."""
    first = exc.errors()[0]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:  # a rule over several fields: its message says what was found
        return f"{message}{more}"
    field = ".".join(str(part) for part in first["loc"])
    field = (names or {}).get(field, field)
    shown = repr(first["input"])
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    found = f", found {shown}" if first["type"] != "missing" else ""
    return f"{field}: {message}{found}{more}"


def foreign_error(exc: BaseException) -> KgsynthError | None:
    """The user error a library's exception stands for, or None for one that is a bug (which keeps its
    traceback): a file that cannot be read or written, a file that is not UTF-8 text, a value a config model
    refuses, a file Arrow cannot read, a Hub or server that cannot be reached. The CLI's boundary
    (``user_errors``) prints it as one ``error:`` line with a hint."""
    module = type(exc).__module__
    if module.startswith(("huggingface_hub", "httpx", "httpcore", "requests", "urllib3")):
        # huggingface_hub's own errors, and the connection errors of its HTTP clients (which name the URL)
        offline = type(exc).__name__ == "OfflineModeIsEnabled"
        return KgsynthError(
            f"cannot reach the Hub: {_first_line(exc)}",
            hint="unset HF_HUB_OFFLINE to go online"
            if offline
            else "check the network and HF_ENDPOINT (the Hub's address), then run the same command again",
        )
    if isinstance(exc, UnicodeDecodeError):
        return KgsynthError(
            f"a file is not UTF-8 text: {exc.reason} at byte {exc.start}",
            hint="give the text file (JSON, JSONL, CSV, YAML) the option expects, saved as UTF-8",
        )
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else None
        problem = exc.strerror or _first_line(exc)
        if isinstance(exc, ConnectionError):
            return KgsynthError(f"cannot connect: {problem}", hint="check that the server is running and reachable")
        if where is None:
            return KgsynthError(problem, hint="check the paths given, their permissions and the free space")
        return KgsynthError(f"cannot use {where}: {problem}",
                            hint="check the path (a file where a folder is needed, or the reverse?), its "
                            "permissions and the free space")  # fmt: skip
    if module.startswith("pyarrow"):
        return KgsynthError(
            f"cannot read an Arrow/parquet file: {_first_line(exc)}",
            hint="give a parquet file written by pyarrow, pandas or datasets (or a JSON, JSONL or CSV file)",
        )
    if module.startswith("pydantic") and type(exc).__name__ == "ValidationError":
        return KgsynthError(f"invalid {getattr(exc, 'title', 'value')}: {validation_message(exc)}",
                            hint="see `kgsynth COMMAND --help` for each option's valid values")  # fmt: skip
    return None
