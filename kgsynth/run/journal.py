"""The run directory of ``kgsynth generate`` as a small journal: a lock, shards named by index, a commit record.

``progress.json`` is the commit point. It records, for every shard ``jsonl/items-NNNNN.jsonl``, its
committed byte length and the SHA-256 of those bytes. A run reopening the folder checks everything
before it changes anything:

- every file in the folder is one the run writes (anything else is refused, never deleted);
- every recorded shard exists, is at least as long as recorded, and its recorded bytes hash as
  recorded (a shorter or edited shard is refused, never padded);
- bytes beyond the recorded length -- and shards not yet recorded -- are accepted only where the next
  batch after the last commit would have written them: that torn tail of a killed run is cut away.

A run holds an OS lock on ``DIR/.lock`` (``fcntl.flock``), so a second run into the same folder is
refused; the kernel releases the lock when the process ends, so a killed run never leaves it stale.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d, lock_run_dir(Path(d)):
...     shards = ShardLog(Path(d) / "jsonl", [])
...     shards.append(0, ['{"a": 1}\\n'])
...     [record.length for record in shards.records()]
[9]
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kgsynth.errors import KgsynthError
from kgsynth.questions.item import Item
from kgsynth.run.layout import LOCK, OLD_HF, PROGRESS, RUN_FILES, RUN_FOLDERS, RUN_RECORD, SHARDS

logger = logging.getLogger(__name__)

SHARD_SIZE = 1000  # items per shard
FLUSH_EVERY = 200  # items per commit
# Scratch names a killed run may leave behind (hf.tmp: by a kgsynth that still wrote hf/); the next run
# writes them afresh.
SCRATCH = frozenset({*(f"{name}.tmp" for name in RUN_FILES), f"{OLD_HF}.tmp"})
SHARD_PATTERN = re.compile(r"items-(\d{5})\.jsonl")
NEW_FOLDER_HINT = "use a new --out folder; nothing in this one was changed"
READ_HINT = (
    "the run no longer holds what its generate committed (progress.json); regenerate it into a new --out "
    "folder (same options and seed give the same items); nothing was written"
)


def shard_name(k: int) -> str:
    return f"items-{k:05d}.jsonl"


class ShardRecord(BaseModel):
    """One shard as committed: its name, byte length and the SHA-256 of those bytes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    length: int
    sha256: str


class Progress(BaseModel):
    """The commit record of a run (``progress.json``)."""

    model_config = ConfigDict(extra="forbid")

    accepted: int = 0
    attempt: int = 0
    drops: dict[str, int] = {}
    shards: list[ShardRecord] = []


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


# -- the lock ---------------------------------------------------------------------------------------

_held: dict[Path, int] = {}  # folders this process has locked, and how often (the lock is re-entrant)


@contextmanager
def lock_run_dir(out: Path) -> Iterator[None]:
    """Hold the run's lock on ``out`` (created if needed); refuse if another process holds it.

    Re-entrant within a process, so the CLI can hold it across generation and the teacher step.
    """
    out = prepare_out(out)
    key = out.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(exc, out) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise KgsynthError(
            f"{out} is in use by another kgsynth run",
            hint="wait for that run to finish, or write this one to another --out folder",
        ) from None
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        os.close(fd)  # closing the descriptor releases the lock


def prepare_out(out: Path) -> Path:
    """``out`` as a folder (created if missing), or a message saying why it cannot be one."""
    if out.exists() and not out.is_dir():
        raise KgsynthError(f"--out {out} is a file, not a folder", hint="give a folder path for --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out) from None
    return out


def write_error(exc: OSError, out: Path) -> KgsynthError:
    """An ``OSError`` met while writing the run in ``out``, as a message a user can act on."""
    where = exc.filename or out
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return KgsynthError(
            f"cannot write {where}: {exc.strerror} (the disk or a quota is full)",
            hint="free some space and run the same command again: what was committed is kept and the run continues",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return KgsynthError(f"cannot write {where}: {exc.strerror}", hint="choose a folder you may write for --out")
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return KgsynthError(f"cannot write {where}: {exc.strerror}", hint="--out must be a folder, or a new path")
    return KgsynthError(f"cannot write {where}: {exc.strerror or exc}", hint="check the --out folder and re-run")


# -- what the folder holds ----------------------------------------------------------------------------


def check_run_entries(out: Path) -> bool:
    """Refuse a folder holding files a run does not write; return whether it holds a run already."""
    entries = {p.name for p in out.iterdir()} - {LOCK}
    unknown = sorted(entries - RUN_FILES - RUN_FOLDERS - SCRATCH)
    if unknown:
        raise KgsynthError(
            f"{out} holds files that are not part of a kgsynth run: {', '.join(unknown)}",
            hint="use a new --out folder, or move those files away; kgsynth never deletes what it did not write",
        )
    for name in RUN_FOLDERS & entries:
        if not (out / name).is_dir():
            raise KgsynthError(f"{out / name} should be a folder of the run but is a file", hint=NEW_FOLDER_HINT)
    started = bool(entries - SCRATCH)
    if started and RUN_RECORD not in entries:
        raise KgsynthError(f"{out} holds run files but no config.json", hint=NEW_FOLDER_HINT)
    return started


def read_progress(path: Path) -> Progress:
    """The commit record at ``path``, or a message saying how it is damaged."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise KgsynthError(f"{path.parent} holds no kgsynth run ({path.name} is missing)",
                           hint="give the --out folder of a kgsynth generate run") from None  # fmt: skip
    if not text.strip():
        raise KgsynthError(f"{path} is empty: the run's commit record is lost", hint=NEW_FOLDER_HINT)
    try:
        progress = Progress.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "the document"
        raise KgsynthError(
            f"{path} is not a commit record of this kgsynth version ({where}: {first['msg']})", hint=NEW_FOLDER_HINT
        ) from None
    for k, record in enumerate(progress.shards):
        if record.name != shard_name(k) or record.length < 0:
            raise KgsynthError(f"{path}: shard {k} is recorded as {record.name!r}", hint=NEW_FOLDER_HINT)
    return progress


# -- the shards ---------------------------------------------------------------------------------------


class ShardLog:
    """Append-only JSONL shards, with the length and running hash of each (what a commit records)."""

    def __init__(self, directory: Path, committed: list[ShardRecord]) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lengths = [record.length for record in committed]
        self._hashes = [hashlib.sha256() for _ in committed]

    def path(self, k: int) -> Path:
        return self.dir / shard_name(k)

    def records(self) -> list[ShardRecord]:
        return [
            ShardRecord(name=shard_name(k), length=length, sha256=digest.hexdigest())
            for k, (length, digest) in enumerate(zip(self.lengths, self._hashes, strict=True))
        ]

    def append(self, index: int, lines: list[str]) -> None:
        """Append the items ``index, index + 1, ...`` (JSON lines) to the shards they belong in."""
        by_shard: dict[int, list[str]] = {}
        for j, line in enumerate(lines):
            by_shard.setdefault((index + j) // SHARD_SIZE, []).append(line)
        for k, chunk in by_shard.items():
            data = "".join(chunk).encode("utf-8")
            while len(self.lengths) <= k:
                self.lengths.append(0)
                self._hashes.append(hashlib.sha256())
            with self.path(k).open("ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            self.lengths[k] += len(data)
            self._hashes[k].update(data)

    def read_lines(self) -> Iterator[bytes]:
        """The committed lines of every shard, in order."""
        for k, length in enumerate(self.lengths):
            with self.path(k).open("rb") as fh:
                yield from fh.read(length).splitlines(keepends=True)


@dataclass
class ShardCheck:
    """What `check_shards` found: the hash of every committed shard, and what a killed run wrote after
    its last commit (bytes past a shard's recorded length, shards not yet recorded)."""

    hashes: list[Any]  # hashlib objects over each shard's committed bytes
    tails: list[tuple[Path, int]]  # a shard that grew, and its committed length
    unrecorded: list[Path]  # shards written after the last commit

    def torn(self) -> str | None:
        """A sentence naming the torn tail of a killed run, or None when there is none."""
        parts = [f"{path.name} past its committed {length} bytes" for path, length in self.tails]
        parts += [f"{path.name} (not committed)" for path in self.unrecorded]
        return ", ".join(parts) or None


def check_shards(directory: Path, progress: Progress) -> ShardCheck:
    """Check the shards in ``directory`` against the journal ``progress``, changing nothing.

    Every recorded shard must exist, be at least as long as recorded and hash as recorded over those
    bytes; anything a killed run wrote after its last commit (the torn tail) is accepted only where the
    next batch would have written it. Anything else -- an edited, cut or deleted shard, a file that is
    not a shard -- is a `KgsynthError` naming the file.
    """
    recorded = {record.name: (k, record) for k, record in enumerate(progress.shards)}
    # The only place a killed run wrote after its last commit: the next batch's items.
    first_open = progress.accepted // SHARD_SIZE
    last_open = (progress.accepted + FLUSH_EVERY - 1) // SHARD_SIZE
    existing = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    unrecorded: list[Path] = []
    for name in existing:
        path = directory / name
        match = SHARD_PATTERN.fullmatch(name)
        if match is None or not path.is_file():
            raise KgsynthError(
                f"{path} is not a file of this run (its shards are named items-NNNNN.jsonl)",
                hint="move it out of the folder and run again; kgsynth never deletes what it did not write",
            )
        if name not in recorded:
            if not first_open <= int(match.group(1)) <= last_open:
                raise KgsynthError(f"{path} is not recorded in progress.json", hint=NEW_FOLDER_HINT)
            unrecorded.append(path)
    hashes = []
    tails: list[tuple[Path, int]] = []
    for k, record in enumerate(progress.shards):
        path = directory / record.name
        if record.name not in existing:
            raise KgsynthError(f"{path} is missing (progress.json records {record.length} bytes)", hint=NEW_FOLDER_HINT)
        size = path.stat().st_size
        if size < record.length:
            raise KgsynthError(
                f"{path} holds {size} bytes, but progress.json records {record.length}: committed items are lost",
                hint=NEW_FOLDER_HINT,
            )
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            digest.update(fh.read(record.length))
        if digest.hexdigest() != record.sha256:
            raise KgsynthError(
                f"{path} was changed after it was committed (its first {record.length} bytes hash differently)",
                hint=NEW_FOLDER_HINT,
            )
        if size > record.length:
            if not first_open <= k <= last_open:
                raise KgsynthError(
                    f"{path} grew after it was committed, but no run appends to it any more", hint=NEW_FOLDER_HINT
                )
            tails.append((path, record.length))
        hashes.append(digest)
    return ShardCheck(hashes, tails, unrecorded)


def reopen_shards(directory: Path, progress: Progress) -> ShardLog:
    """The shards as ``progress`` committed them, after checking them (`check_shards`); the torn tail of a
    killed run is cut. Nothing is changed unless every check passes.
    """
    check = check_shards(directory, progress)
    for path, length in check.tails:
        logger.info("cutting %s back to its committed %d bytes", path, length)
        with path.open("r+b") as fh:
            fh.truncate(length)
    for path in check.unrecorded:
        logger.info("removing %s, written after the last commit", path)
        path.unlink()
    shards = ShardLog(directory, progress.shards)
    shards._hashes = check.hashes
    return shards


def read_run_items(out: Path) -> list[Item]:
    """The committed items of the generate run in ``out``, in order, read only after every shard's length
    and SHA-256 are checked against the journal (`check_shards`); the one reader of a run's items
    (export, eval, audit, the teacher step). A killed run's torn tail is left out with a warning and
    left in place (the run's resume cuts it); an edited, cut or deleted shard is a `KgsynthError`.
    """
    if not out.is_dir():
        raise KgsynthError(f"{out} is not a folder", hint="give the --out folder of a kgsynth generate run")
    if not (out / RUN_RECORD).is_file():
        raise KgsynthError(f"{out} is not a kgsynth generate run (no config.json)",
                           hint="give the --out folder of `kgsynth generate`")  # fmt: skip
    try:
        progress = read_progress(out / PROGRESS)
        check = check_shards(out / SHARDS, progress)
    except KgsynthError as exc:
        raise KgsynthError(exc.message, hint=READ_HINT) from None
    torn = check.torn()
    if torn:
        logger.warning("%s: ignoring the torn tail a killed run left (%s); re-running its generate command "
                       "resumes it", out, torn)  # fmt: skip
    items: list[Item] = []
    for record in progress.shards:
        path = out / SHARDS / record.name
        with path.open("rb") as fh:
            data = fh.read(record.length)
        for number, line in enumerate(data.splitlines(), 1):
            try:
                items.append(Item.model_validate_json(line))
            except ValueError:
                raise KgsynthError(f"{path}, line {number}: not an item of this kgsynth version",
                                   hint="export it with the kgsynth version that generated it") from None  # fmt: skip
    if len(items) != progress.accepted:
        raise KgsynthError(f"{out}: shards hold {len(items)} items, progress.json says {progress.accepted}",
                           hint=NEW_FOLDER_HINT)  # fmt: skip
    return items
