"""The connection to a Neo4j server: the driver, checked on first use; its errors turned into ones a user can act
on; managed write transactions retried where the driver leaves it to the caller."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from kgsynth.errors import KgsynthError

if TYPE_CHECKING:
    import neo4j

logger = logging.getLogger(__name__)

DEFAULT_URI = "bolt://127.0.0.1:17687"  # the server scripts/neo4j.sh starts
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_WORKERS = 3  # parallel write transactions; docs/neo4j.md has the measurements
DEFAULT_MAX_RETRY_TIME = 60.0
DEFAULT_CONNECTION_TIMEOUT = 10.0
USER_AGENT = "kgsynth-neo4j-store"  # how kgsynth's connections show in SHOW TRANSACTIONS / listConnections

_T = TypeVar("_T")

# Client errors that mean "this transaction was cut off", not "this query is wrong". Request.Invalid is what a
# server answers on a connection whose previous transaction was killed under it ("cannot be handled by a session
# in the READY state"): kgsynth's queries are fixed, so it is never a malformed request of its own.
_RETRY_CODES = {
    "Neo.ClientError.Transaction.Terminated",
    "Neo.ClientError.Transaction.LockClientStopped",
    "Neo.ClientError.Transaction.TransactionTimedOut",
    "Neo.ClientError.Transaction.TransactionNotFound",
    "Neo.ClientError.Request.Invalid",
}


def is_retryable(exc: BaseException) -> bool:
    """Whether a write transaction that failed with ``exc`` is worth running again: what the driver classes as
    retryable (transient errors, a lost or expired session), a commit whose outcome is unknown, a pooled
    connection that broke, and the client errors a killed connection leaves (``_RETRY_CODES``)."""
    from neo4j import exceptions as neo

    if isinstance(exc, neo.AuthError | neo.ConfigurationError):
        return False
    if isinstance(exc, neo.ServiceUnavailable | neo.SessionExpired | neo.TransientError):
        return True  # IncompleteCommit is a ServiceUnavailable: safe, as every kgsynth write is idempotent
    if isinstance(exc, neo.Neo4jError):
        return exc.code in _RETRY_CODES or exc.is_retryable()
    if isinstance(exc, neo.DriverError):
        return exc.is_retryable()
    return isinstance(exc, ConnectionError | TimeoutError)


# --- errors ----------------------------------------------------------------------------------------
class Neo4jError(KgsynthError):
    """A Neo4j backend error a user can act on."""


class Neo4jUnavailableError(Neo4jError):
    """No Neo4j server answers at the URI."""

    def __init__(self, uri: str, detail: str) -> None:
        super().__init__(
            f"cannot reach Neo4j at {uri}: {detail}",
            hint="start it (scripts/neo4j.sh start for the project's own server) or set NEO4J_URI "
            "to a server that is running, e.g. bolt://localhost:7687 or neo4j+s://<id>.databases.neo4j.io",
        )
        self.uri = uri


class Neo4jAuthError(Neo4jError):
    """The server refused the user name or password."""

    def __init__(self, uri: str, user: str) -> None:
        super().__init__(
            f"Neo4j at {uri} refused the credentials of user {user!r}",
            hint="check NEO4J_USER and NEO4J_PASSWORD (the password is read from the environment only)",
        )
        self.uri = uri


class Neo4jConnectionLostError(Neo4jError):
    """The connection dropped and did not come back within the retry time."""

    def __init__(self, uri: str, what: str, detail: str) -> None:
        super().__init__(
            f"lost the connection to Neo4j at {uri} while {what}, and it did not come back: {detail}",
            hint="what was committed is kept; run the same command again to resume where it stopped",
        )
        self.uri = uri


class GraphNotInNeo4jError(Neo4jError):
    """The graph asked for is not (or not completely) in the database."""


def redact_uri(uri: str) -> str:
    """``uri`` without any ``user:password@`` part, fit to print."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable NEO4J_URI>"
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def describe(exc: BaseException) -> str:
    """A one-line account of a driver error (driver messages never hold the password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --- the connection ---------------------------------------------------------------------------------
class Neo4jConnection:
    """One server and database, reached lazily; the password is kept only inside the driver's auth token."""

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        *,
        database: str | None = None,
        max_retry_time: float = DEFAULT_MAX_RETRY_TIME,
        connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
    ) -> None:
        self.uri = uri
        self.user = user
        self.database = database
        self.max_retry_time = max_retry_time
        self.connection_timeout = connection_timeout
        self._auth = (user, password)
        self._driver: neo4j.Driver | None = None

    @property
    def safe_uri(self) -> str:
        return redact_uri(self.uri)

    @property
    def driver(self) -> neo4j.Driver:
        """The driver, created and checked (reachable, credentials accepted) on first use."""
        if self._driver is None:
            import neo4j
            from neo4j import exceptions as neo

            try:
                driver = neo4j.GraphDatabase.driver(
                    self.uri,
                    auth=self._auth,
                    max_transaction_retry_time=self.max_retry_time,
                    connection_timeout=self.connection_timeout,
                    connection_acquisition_timeout=self.connection_timeout + 5,
                    # "already exists" notes on every CREATE ... IF NOT EXISTS are noise; warnings stay.
                    notifications_min_severity="WARNING",
                    user_agent=USER_AGENT,
                )
            except (neo.ConfigurationError, ValueError) as exc:
                raise Neo4jError(
                    f"NEO4J_URI {self.safe_uri!r} is not a Neo4j URI: "
                    + describe(exc).replace(self.uri, self.safe_uri),
                    hint="use bolt://host:7687, neo4j://host:7687 or neo4j+s://host (Aura)",
                ) from None
            try:
                driver.verify_connectivity()
            except neo.AuthError:
                driver.close()
                raise Neo4jAuthError(self.safe_uri, self.user) from None
            except (neo.DriverError, neo.Neo4jError, OSError) as exc:
                driver.close()
                raise Neo4jUnavailableError(self.safe_uri, describe(exc)) from None
            self._driver = driver
            logger.info("connected to Neo4j at %s as %s", self.safe_uri, self.user)
        return self._driver

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def session(self) -> neo4j.Session:
        return self.driver.session(database=self.database)

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn the driver's errors into ones that name the server and say what to do."""
        from neo4j import exceptions as neo

        try:
            yield
        except neo.AuthError:
            raise Neo4jAuthError(self.safe_uri, self.user) from None
        except (neo.ServiceUnavailable, neo.SessionExpired) as exc:
            raise Neo4jConnectionLostError(self.safe_uri, what, describe(exc)) from None
        except (neo.DriverError, neo.Neo4jError) as exc:
            raise Neo4jError(f"Neo4j at {self.safe_uri} failed while {what}: {describe(exc)}") from None

    def transact(self, work: Callable[..., _T], *args: Any, what: str, **params: Any) -> _T:
        """``work(tx, *args, **params)`` in a managed write transaction, retrying what the driver leaves to
        the caller.

        The driver retries transient errors itself, but not a commit whose outcome it cannot know
        (``IncompleteCommit``) nor a transaction the server terminated because its connection was killed.
        Every write kgsynth runs this way is safe to retry: a batch that did commit is a no-op under the
        progress guard, and the other statements are idempotent.
        """
        return self.retrying(lambda session: session.execute_write(work, *args, **params), what=what)

    def retrying(self, call: Callable[[neo4j.Session], _T], *, what: str) -> _T:
        """``call(session)`` in a fresh session, run again (with backoff, up to ``max_retry_time``) after every
        error :func:`is_retryable` accepts. ``call`` must be safe to repeat (a read, or an idempotent write)."""
        from neo4j import exceptions as neo

        deadline = time.monotonic() + self.max_retry_time
        delay = 0.2
        while True:
            try:
                with self.session() as session:
                    return call(session)
            except (neo.DriverError, neo.Neo4jError, ConnectionError, TimeoutError) as exc:
                if not is_retryable(exc) or time.monotonic() + delay > deadline:
                    raise
                logger.warning("retrying (%s): %s", what, describe(exc))
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def fetch(self, query: str, *, what: str, **params: Any) -> list[Any]:
        """The ``rows`` of a query returning ``collect(...) AS rows``, in a retried write transaction."""
        return self.transact(fetch_rows, query, what=what, **params)


def fetch_rows(tx: neo4j.ManagedTransaction, query: str, **params: Any) -> list[Any]:
    """The ``rows`` list of a query's single record (queries return ``collect(...) AS rows``)."""
    record = tx.run(query, **params).single()
    return list(record["rows"]) if record is not None else []
