"""Writing a file whole or not at all: the one atomic writer every step uses.

The data goes to ``NAME.tmp`` beside the target, is flushed and fsynced, then moved over the target
(``os.replace``, atomic on POSIX): a reader, or a run resumed after a kill or a power cut, sees the old
file or the new one, never a torn mix. A leftover ``NAME.tmp`` is scratch that the next write replaces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TMP_SUFFIX = ".tmp"


def tmp_path(path: Path) -> Path:
    """Where `atomic_write` stages ``path``: ``path`` with `TMP_SUFFIX` appended."""
    return path.with_name(path.name + TMP_SUFFIX)


def atomic_write(path: str | Path, data: str | bytes | Iterable[str]) -> Path:
    """Write ``data`` (text, bytes, or chunks of text written one after another) to ``path`` atomically and
    durably; the folder is made if missing. Returns ``path``.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "sub" / "a.txt"
    >>> atomic_write(target, ["one\\n", "two\\n"]).read_text()
    'one\\ntwo\\n'
    >>> sorted(p.name for p in target.parent.iterdir())  # no scratch left behind
    ['a.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    try:
        if isinstance(data, bytes):
            with tmp.open("wb") as fb:
                fb.write(data)
                fb.flush()
                os.fsync(fb.fileno())
        else:
            with tmp.open("w", encoding="utf-8") as ft:
                if isinstance(data, str):
                    ft.write(data)
                else:
                    ft.writelines(data)
                ft.flush()
                os.fsync(ft.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed write (a full disk, say) leaves no scratch behind
        raise
    return path
