"""Errors a user can act on: which file, which line, what was expected, what to do."""

from __future__ import annotations

from pathlib import Path


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
