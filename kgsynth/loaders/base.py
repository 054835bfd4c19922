"""What every source loader shares: where its files live, how they are opened, how lines are checked."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import logging
import lzma
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, ClassVar

from kgsynth.errors import MissingSourceFileError, SourceFormatError
from kgsynth.model import GraphBuilder, SourceInfo

logger = logging.getLogger(__name__)

DATA_ENV = "KGSYNTH_DATA_DIR"


def data_root() -> Path | None:
    """Where the bundled ontology releases live: ``$KGSYNTH_DATA_DIR``, else a ``shared/data`` folder
    beside the working directory or beside the repository checkout."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *Path.cwd().parents[:2], *here.parents[1:5]):
        candidate = base / "shared" / "data"
        if (candidate / "ontologies").is_dir():
            return candidate
        candidate = base.parent / "shared" / "data"
        if (candidate / "ontologies").is_dir():
            return candidate
    return None


_MAGIC: dict[bytes, str] = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ": "xz"}


def open_text(path: str | Path | IO[str]) -> IO[str]:
    """Open a path or pass through an open text file; gzip, bz2 and xz are detected by magic bytes."""
    if not isinstance(path, str | Path):
        return path
    p = Path(path)
    with p.open("rb") as fh:
        head = fh.read(6)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
            return io.TextIOWrapper(opener(p, "rb"), encoding="utf-8", newline="")  # type: ignore[operator]
    return p.open(encoding="utf-8", newline="")


def file_digest(path: Path) -> str:
    """Content hash of a file (what the graph cache is keyed by)."""
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_tsv(
    path: Path,
    *,
    columns: int,
    header: tuple[str, ...] | None = None,
    comment: str | None = None,
    strip_quotes: bool = False,
    what: str = "a tab-separated row",
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for each data row, checking the header and the column count.

    A header that does not start with ``header`` or a row with fewer than ``columns`` fields raises
    :class:`SourceFormatError` naming the file and the line.
    """
    with open_text(path) as fh:
        seen_header = header is None
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line or (comment is not None and line.startswith(comment)):
                continue
            fields = line.split("\t")
            if strip_quotes:
                fields = [f[1:-1] if len(f) >= 2 and f[0] == f[-1] == '"' else f for f in fields]
            if not seen_header:
                assert header is not None
                if tuple(fields[: len(header)]) != header:
                    raise SourceFormatError(path, lineno, "a header starting with " + "\\t".join(header), found=line)
                seen_header = True
                continue
            if len(fields) < columns:
                raise SourceFormatError(path, lineno, f"{what} with {columns} tab-separated fields", found=line)
            yield lineno, fields
        if not seen_header:
            raise SourceFormatError(path, None, "a header line, but the file is empty")


class Loader:
    """A source: a set of files in one folder, turned into nodes and edges of the model.

    Subclasses declare their files, licence and how to obtain them, and implement :meth:`load`.
    Built-in loaders are registered through the ``kgsynth.sources`` entry point group, exactly as a
    third party's loader would be.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    licence: ClassVar[str]
    commercial_use: ClassVar[bool] = True
    opt_in: ClassVar[bool] = False  # not part of the default KG unless asked for
    in_default: ClassVar[bool] = True  # False for formats that need a user's own files
    url: ClassVar[str] = ""
    subdir: ClassVar[str] = ""  # folder under the data root holding the default release
    files: ClassVar[dict[str, str]] = {}  # role -> file name within the folder
    optional_files: ClassVar[frozenset[str]] = frozenset()
    obtain: ClassVar[str] = ""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else self.default_directory()

    @classmethod
    def default_directory(cls) -> Path | None:
        root = data_root()
        return root / "ontologies" / cls.subdir if root is not None and cls.subdir else None

    @classmethod
    def info(cls) -> SourceInfo:
        return SourceInfo(
            name=cls.name,
            title=cls.title,
            licence=cls.licence,
            commercial_use=cls.commercial_use,
            url=cls.url,
        )

    def path(self, role: str) -> Path:
        """The file playing ``role``; raises :class:`MissingSourceFileError` with how to obtain it."""
        filename = self.files[role]
        if self.directory is None:
            raise MissingSourceFileError(
                filename,
                self.name,
                f"{self.obtain} Then pass --from {self.name}=DIR, or set ${DATA_ENV} to the folder "
                "holding ontologies/.",
            )
        p = self.directory / filename
        if not p.exists():
            raise MissingSourceFileError(
                p,
                self.name,
                f"{self.obtain} Then pass --from {self.name}=DIR (the folder holding {filename}).",
            )
        return p

    def input_paths(self) -> list[Path]:
        """Every file this loader will read (for the cache key)."""
        out = []
        for role in self.files:
            if role in self.optional_files:
                assert self.directory is not None
                p = self.directory / self.files[role]
                if p.exists():
                    out.append(p)
                continue
            out.append(self.path(role))
        return out

    def load(self, builder: GraphBuilder) -> None:
        raise NotImplementedError
