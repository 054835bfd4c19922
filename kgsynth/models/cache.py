"""A request cache, so that an interrupted or repeated run sends nothing twice and loses nothing.

Each answered request is stored under `ChatRequest.cache_key()` (a digest of model, messages,
sampling parameters and seed) the moment it arrives, in SQLite in write-ahead-log mode: a committed
answer survives the process being killed, and a half-written one is never read back. Failed
requests are not stored, so a rerun tries them again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from kgsynth.models.base import Completion

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    completion TEXT NOT NULL
)
"""


class RequestCache:
    """Completions by request key, in a SQLite file.

    `durable=True` also survives a power cut (an fsync per answer) at the cost of speed; the
    default survives the process dying, which is what interrupted runs need.

    >>> import tempfile, pathlib
    >>> with RequestCache(pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite") as cache:
    ...     cache.put("k", "m", Completion(text="Answer: A"))
    ...     cache.get("k").text
    'Answer: A'
    """

    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT completion FROM completions WHERE key = ?", (key,)).fetchone()
        return Completion.from_json(json.loads(row[0])) if row else None

    def put(self, key: str, model: str, completion: Completion) -> None:
        payload = json.dumps(completion.to_json(), ensure_ascii=False, sort_keys=True)
        self._db.execute(
            "INSERT OR REPLACE INTO completions (key, model, completion) VALUES (?, ?, ?)",
            (key, model, payload),
        )

    def __contains__(self, key: object) -> bool:
        return self._db.execute("SELECT 1 FROM completions WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def keys(self) -> Iterator[str]:
        yield from (row[0] for row in self._db.execute("SELECT key FROM completions ORDER BY key"))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
