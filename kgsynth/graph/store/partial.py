"""Partial folders: where a graph (or an export) is written before it is renamed into place, and their removal when a
killed writer left one behind.

A partial folder is named ``.kgsynth-partial.<host>.<pid>.<random>`` beside its target, so a later
writer can tell it from anything else: only a folder with that prefix, made on this host by a process
that is no longer running, holding nothing but plain files and folders (no links), is ever removed.
Everything else (another host's partial on a shared disk, a running writer's, a user's folder) is left
alone. `kgsynth load` writes graphs this way, and `kgsynth export` datasets.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = ".kgsynth-partial"
_NAME = re.compile(rf"^{re.escape(PREFIX)}\.([A-Za-z0-9-]+)\.(\d+)\.[A-Za-z0-9_]+$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def make_partial(parent: Path) -> Path:
    """A new, empty partial folder in ``parent`` (which must exist), owned by this process."""
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}.{_host()}.{os.getpid()}.", dir=parent))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def is_stale_partial(path: Path) -> bool:
    """Whether ``path`` is a partial folder this host's kgsynth made in a process that has ended (plain
    files and folders inside, no links)."""
    m = _NAME.match(path.name)
    if m is None or m.group(1) != _host() or int(m.group(2)) == os.getpid() or _running(int(m.group(2))):
        return False
    if path.is_symlink() or not path.is_dir():
        return False
    return all(not entry.is_symlink() and (entry.is_file() or entry.is_dir()) for entry in path.rglob("*"))


def remove_stale_partials(parent: Path) -> list[Path]:
    """Remove the partial folders in ``parent`` that killed writers left; return them. Never raises: a
    folder that cannot be listed or removed is left for the next writer."""
    removed: list[Path] = []
    try:
        candidates = sorted(p for p in parent.iterdir() if p.name.startswith(PREFIX))
    except OSError:
        return removed
    for path in candidates:
        try:
            if is_stale_partial(path):
                shutil.rmtree(path)
                removed.append(path)
                logger.info("removed %s, left by a killed kgsynth process", path)
        except OSError as exc:
            logger.debug("could not remove stale %s: %s", path, exc)
    return removed


def swap_in(partial: Path, target: Path) -> None:
    """Rename the finished ``partial`` folder to ``target``, replacing what was there.

    The old ``target`` is first renamed to a partial of its own, so at every moment ``target`` is either
    the old graph or the new one (a kill in between leaves it missing, never half-written), and the old
    one is removed last.
    """
    old = None
    if target.exists():
        old = make_partial(target.parent)
        os.replace(target, old)  # a folder may replace an empty one
    os.replace(partial, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
