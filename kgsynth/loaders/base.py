"""What every source loader shares: where its files live, how they are opened, how lines are checked.

Everything that can go wrong while reading a file (a folder where a file should be, no permission, a
byte that is not UTF-8, a compressed file cut short, a CSV record that never closes its quote) is
turned into a :class:`~kgsynth.errors.KgsynthError` here, where it happens, naming the file and, where
there is one, the line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import logging
import lzma
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, ClassVar

from kgsynth.errors import MissingSourceFileError, SourceFormatError, SourceReadError
from kgsynth.graph.model import GraphBuilder, SourceInfo

logger = logging.getLogger(__name__)

DATA_ENV = "KGSYNTH_DATA_DIR"
REDOWNLOAD = "the file is damaged or was cut short (an interrupted download or copy): download it again"


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
_OPENERS: dict[str, Callable[..., IO[bytes]]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}  # type: ignore[dict-item]
# What the decompressors raise on a damaged or truncated stream (bz2 raises a bare OSError, handled below).
_STREAM_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


def read_error(path: str | Path, exc: OSError) -> SourceReadError:
    """The user-facing error for an ``OSError`` met while opening or reading a source file."""
    if isinstance(exc, IsADirectoryError):
        return SourceReadError(
            path,
            "it is a folder, not a file",
            hint="--from SOURCE=DIR names the folder holding the source's files; the file itself must be a "
            "regular file (see `kgsynth sources`)",
        )
    if isinstance(exc, PermissionError):
        return SourceReadError(path, "permission denied", hint="make the file readable (chmod u+r) or copy it")
    if isinstance(exc, FileNotFoundError):
        return SourceReadError(path, "it does not exist (any more)", hint="check the path given with --from")
    return SourceReadError(path, exc.strerror or str(exc), hint="check the disk holding it, or copy it again")


def compression_of(path: Path) -> str | None:
    """``gzip``, ``bz2`` or ``xz`` by the file's magic bytes, else ``None`` (plain text)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise read_error(path, exc) from None
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def open_text(path: str | Path | IO[str]) -> IO[str]:
    """Open a path or pass through an open text file; gzip, bz2 and xz are detected by magic bytes.

    Opening errors (a folder, no permission) are raised as :class:`SourceReadError`; read inside
    :func:`reading` to have decoding and decompression errors reported the same way.
    """
    if not isinstance(path, str | Path):
        return path
    p = Path(path)
    kind = compression_of(p)
    try:
        if kind is not None:
            return io.TextIOWrapper(_OPENERS[kind](p, "rb"), encoding="utf-8", newline="")
        return p.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise read_error(p, exc) from None


def _first_undecodable_line(path: Path) -> tuple[int | None, str | None]:
    """The line number and text of the first line of ``path`` that is not UTF-8 (scanned again in bytes)."""
    try:
        kind = compression_of(path)
        with _OPENERS[kind](path, "rb") if kind else path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return lineno, raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
    except (OSError, *_STREAM_ERRORS):
        pass
    return None, None


@contextmanager
def reading(path: str | Path | IO[str], line: Callable[[], int | None] = lambda: None) -> Iterator[None]:
    """Report what goes wrong while reading ``path`` inside the block as a :class:`KgsynthError`.

    ``line`` gives the line being read, for errors that do not know it themselves. A byte that is not
    UTF-8 is located exactly by scanning the file again.
    """
    name = str(path) if isinstance(path, str | Path) else getattr(path, "name", "<stream>")
    try:
        yield
    except UnicodeDecodeError as exc:
        lineno, text = _first_undecodable_line(Path(path)) if isinstance(path, str | Path) else (None, None)
        raise SourceFormatError(
            name,
            lineno if lineno is not None else line(),
            "UTF-8 text",
            found=text if text is not None else f"byte {exc.object[exc.start : exc.start + 1]!r}",
            hint="re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN > OUT`), or download an "
            "unmodified copy of the release",
        ) from None
    except _STREAM_ERRORS as exc:
        raise _damaged_stream(name, line(), exc) from None
    except OSError as exc:
        if isinstance(path, str | Path) and exc.errno is None and compression_of(Path(path)) is not None:
            raise _damaged_stream(name, line(), exc) from None  # bz2: a bare OSError("Invalid data stream")
        raise read_error(name, exc) from None


def _damaged_stream(name: str, line: int | None, exc: BaseException) -> SourceFormatError:
    return SourceFormatError(
        name,
        line,
        "a complete compressed file, but it ends (or is damaged) here",
        found=str(exc),
        hint=REDOWNLOAD,
    )


def file_digest(path: Path) -> str:
    """Content hash of a file (what the graph cache is keyed by)."""
    h = hashlib.blake2b(digest_size=16)
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise read_error(path, exc) from None
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

    A header that does not start with ``header``, a row with fewer than ``columns`` fields, or a file
    with no data row at all (only a header: an export or download that failed) raises
    :class:`SourceFormatError` naming the file and the line.
    """
    lineno = 0
    rows = 0
    with open_text(path) as fh, reading(path, lambda: lineno + 1):
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
            rows += 1
            yield lineno, fields
    if not seen_header:
        raise SourceFormatError(path, None, "a header line, but the file is empty", hint=REDOWNLOAD)
    if not rows:
        raise SourceFormatError(
            path,
            None,
            f"{what}, but the file has no data row" + (" (only its header)" if header else ""),
            hint=REDOWNLOAD,
        )


def read_csv(path: Path, *, header: tuple[str, ...], what: str = "a record") -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for each record of a comma-separated file with ``header``.

    The line number is the line a record *starts* on, so a quote that is never closed (which makes the
    reader swallow the following lines) is reported where it was opened, not at the end of the file.
    Every record must have as many fields as the header.
    """
    start = 1
    records = 0
    with open_text(path) as fh, reading(path, lambda: start):
        reader = csv.reader(fh)
        try:
            first = next(reader, None)
            if first is None or tuple(first[: len(header)]) != header:
                raise SourceFormatError(path, 1, "the header " + ",".join(header), found=",".join(first or []))
            start = reader.line_num + 1
            for row in reader:
                if len(row) != len(header):
                    if reader.line_num > start:
                        raise SourceFormatError(
                            path,
                            start,
                            f"{what} on one line with {len(header)} fields; a quote opened on this line is "
                            f"never closed, so the record runs on to line {reader.line_num}",
                            found=",".join(row).split("\n", 1)[0],
                            hint='close the quote (a quote inside a field is written as two quotes ""), '
                            "or download an unmodified copy",
                        )
                    raise SourceFormatError(
                        path, start, f"{what} with {len(header)} comma-separated fields", found=",".join(row)
                    )
                records += 1
                yield start, row
                start = reader.line_num + 1
        except csv.Error as exc:
            limit = csv.field_size_limit()
            expected = (
                f"fields of at most {limit:,} characters (a quote opened on this line and never closed makes "
                "the rest of the file one field)"
                if "field larger than field limit" in str(exc)
                else "a well-formed comma-separated record"
            )
            raise SourceFormatError(path, start, expected, found=str(exc)) from None
    if not records:
        raise SourceFormatError(path, None, f"{what}, but the file has only its header", hint=REDOWNLOAD)


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
    # CURIE prefixes of the identifiers the source contributes where it adds no edges of its own (the
    # dataset card counts the items carrying them as using the source)
    id_prefixes: ClassVar[tuple[str, ...]] = ()

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
        if self.directory.is_file():
            raise MissingSourceFileError(
                p,
                self.name,
                f"--from {self.name}=DIR names the folder holding {filename}, but {self.directory} is a file: "
                f"pass its folder, --from {self.name}={self.directory.parent}.",
            )
        if not p.exists():
            raise MissingSourceFileError(
                p,
                self.name,
                f"{self.obtain} Then pass --from {self.name}=DIR (the folder holding {filename}).",
            )
        if not p.is_file():
            raise SourceReadError(
                p,
                "it is a folder, not a file",
                hint=f"source {self.name!r} reads {filename} from the folder given with --from {self.name}=DIR; "
                f"put the file itself there (see `kgsynth sources`)",
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
