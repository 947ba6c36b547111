"""The call recorder: every model call and tool execution, stored in a local SQLite database.

Opt-in, three ways:

    with toolwire.record_calls():     # or record_calls("calls.db"); or rec = record_calls() ... rec.stop()
        session.generate("...")

    TOOLWIRE_RECORD=1 python app.py         # default path; or TOOLWIRE_RECORD=/path/to/calls.db

    toolwire chat --record ...              # the CLI flag

Design constraints, and how they are met:

- A call never waits for the disk: observers only put a small tuple on a queue; a daemon writer
  thread serializes (request body, response, tool results) and writes in batched transactions.
  If the queue is full (the disk is stuck), events are dropped and counted, never waited for.
  `flush()` waits until everything queued so far is on disk; it also runs at interpreter exit.
- Several threads, event loops and processes may record into one file: each process has one
  writer connection, the database is in WAL mode with a busy timeout, and rows have random ids.
- No secret is stored: the request *body* is recorded (it carries no credentials), header values
  that are credentials are replaced, credential-named fields are redacted, and the provider's own
  key is scrubbed from every stored string.
- The schema is versioned (`schema_version` table); a database written by a newer toolwire is
  refused rather than misread.
- A conversation's history is stored once (`_recorded_history`): each call writes only the
  messages its body adds to the previous call's, so a call costs O(new messages), not O(history);
  readers get the whole body back. Rows of schema 1 (history inline) are read as they are.
- Images (`toolwire.Image`) are stored once, by content hash, in the `images` table; the rows keep
  only `{"type": "image", "sha256", "media_type", "size"}` (a URL image keeps its URL), so a
  screenshot sent back in every later turn of a conversation is one blob, not base64 in every row.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import sqlite3
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _instrument, _recorded_history
from ._recorded_images import tool_output
from ._recorded_rows import dumps as _dumps
from ._recorded_rows import error_text as _error_text
from ._recorded_rows import request_payload as _request_payload
from ._recorded_rows import response_payload as _response_payload
from .errors import ConfigurationError
from .logs import provider_secrets, scrub

if TYPE_CHECKING:
    from ._instrument import CallRecord, ToolRecord
    from ._recorded_images import ImageRefs
    from .types import GenerateResponse, ToolResult

__all__ = [
    "ENV_VAR",
    "SCHEMA_VERSION",
    "CallRecorder",
    "CallStore",
    "active_recorders",
    "default_db_path",
    "install_from_env",
    "record",
    "record_calls",
]

ENV_VAR = "TOOLWIRE_RECORD"
SCHEMA_VERSION = 2
_BUSY_TIMEOUT_MS = 15000
_BATCH = 256
_KEEP_BODIES = 64  # queued calls that keep their sent body; later ones have it rebuilt by the writer

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE IF NOT EXISTS events (
            id              TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            kind            TEXT NOT NULL CHECK (kind IN ('chat', 'tool')),
            provider        TEXT,
            model           TEXT,
            name            TEXT,
            tool_call_id    TEXT,
            started         REAL NOT NULL,
            duration_ms     REAL,
            status          TEXT NOT NULL CHECK (status IN ('ok', 'error')),
            error_type      TEXT,
            error           TEXT,
            input_tokens    INTEGER,
            output_tokens   INTEGER,
            total_tokens    INTEGER,
            finish_reason   TEXT,
            stream          INTEGER,
            request         TEXT,
            response        TEXT,
            pid             INTEGER,
            recorded        REAL NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS events_conversation ON events (conversation_id, started)",
        "CREATE INDEX IF NOT EXISTS events_started ON events (started)",
    ),
    # rows may point at a stored history (issue 16 item 15): an older toolwire would read those
    # bodies without their messages, so the version goes up and it refuses the file instead
    2: (_recorded_history.TABLE,),
}

_COLUMNS = (
    "id",
    "conversation_id",
    "kind",
    "provider",
    "model",
    "name",
    "tool_call_id",
    "started",
    "duration_ms",
    "status",
    "error_type",
    "error",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "finish_reason",
    "stream",
    "request",
    "response",
    "pid",
    "recorded",
)
# Added after schema 1 and created on every open when missing: an additive table that an older
# toolwire ignores (it still reads the events), so it does not bump SCHEMA_VERSION and lock it out.
_IMAGES_TABLE = """
    CREATE TABLE IF NOT EXISTS images (
        sha256     TEXT PRIMARY KEY,
        media_type TEXT NOT NULL,
        size       INTEGER NOT NULL,
        data       BLOB NOT NULL,
        recorded   REAL NOT NULL
    )
"""
_INSERT_IMAGE = (
    "INSERT OR IGNORE INTO images (sha256, media_type, size, data, recorded) VALUES (?, ?, ?, ?, ?)"
)
_INSERT = f"INSERT OR REPLACE INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


def default_db_path() -> Path:
    """`$TOOLWIRE_HOME/calls.db`, else `$XDG_DATA_HOME/toolwire/calls.db`, else
    `~/.local/share/toolwire/calls.db`."""
    home = os.environ.get("TOOLWIRE_HOME")
    if home:
        return Path(home).expanduser() / "calls.db"
    data = os.environ.get("XDG_DATA_HOME")
    base = Path(data).expanduser() if data else Path.home() / ".local" / "share"
    return base / "toolwire" / "calls.db"


def _resolve(path: str | os.PathLike[str] | None) -> Path:
    return Path(path).expanduser() if path else default_db_path()


def connect(path: str | os.PathLike[str] | None = None) -> sqlite3.Connection:
    """Open (creating and migrating if needed) a recorder database in WAL mode."""
    db = _resolve(path)
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(db), timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    _retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
    conn.execute("PRAGMA synchronous = NORMAL")
    _retry_locked(lambda: _migrate(conn, db))
    return conn


def _retry_locked(action: Any, attempts: int = 50) -> Any:
    # busy_timeout covers ordinary writes; switching to WAL and the first schema creation by several
    # processes at once can still report "locked" immediately, so retry those a little.
    for attempt in range(attempts):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    return None


def _migrate(conn: sqlite3.Connection, db: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise ConfigurationError(
                f"{db} was written by a newer toolwire (schema {current}, this one reads {SCHEMA_VERSION}); "
                "upgrade toolwire or record into another file"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute(_IMAGES_TABLE)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()
_active: weakref.WeakSet[CallRecorder] = weakref.WeakSet()


class CallRecorder:
    """An observer that records calls and tool executions into a SQLite file from a writer thread.

    `start()` subscribes it, `stop()` flushes and unsubscribes; it is also a context manager.
    `dropped` counts events lost because the writer could not keep up (the queue is bounded).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, max_queue: int = 10000) -> None:
        self.path = _resolve(path)
        self.max_queue = max_queue
        self.dropped = 0
        self.written = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._pid = -1
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._started = False
        self._history = _recorded_history.HistoryCache()
        # Open once now so a bad path or a newer schema is reported to the caller, not lost in a thread.
        connect(self.path).close()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> CallRecorder:
        self._started = True
        _active.add(self)
        _instrument.add_observer(self)
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        _instrument.remove_observer(self)
        self._started = False
        _active.discard(self)
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self.flush(timeout)
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)

    def __enter__(self) -> CallRecorder:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every event queued so far is written. False if `timeout` passed first."""
        if self._thread is None or self._pid != os.getpid():
            return True
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    # -- the writer ----------------------------------------------------------------------------------
    def _submit(self, item: tuple[Any, ...]) -> None:
        if self._pid != os.getpid() or not self._writer_alive():
            with self._lock:
                if self._pid != os.getpid() or not self._writer_alive():
                    # first event in this process, after a fork (the parent's thread is not here)
                    # or after stop(): a restarted recorder writes again (issue 16 item 15)
                    if self._pid != os.getpid():
                        self._queue = queue.Queue(self.max_queue)
                    self._thread = threading.Thread(target=self._run, name="toolwire-recorder", daemon=True)
                    self._pid = os.getpid()
                    self._thread.start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:  # `+=` is not atomic across the threads that submit
                self.dropped += 1

    def _writer_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        stop = False
        while not stop:
            item = self._queue.get()
            batch = [item]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows: list[tuple[Any, ...]] = []
            blobs: dict[str, tuple[str, bytes]] = {}
            nodes: _recorded_history.Nodes = {}
            markers: list[_Flush] = []
            for entry in batch:
                if entry is _STOP:
                    stop = True
                elif isinstance(entry, _Flush):
                    markers.append(entry)
                else:
                    try:
                        rows.append(self._row(entry, blobs, nodes))
                    except Exception:
                        self.errors += 1
            if rows:
                try:
                    if conn is None:
                        conn = connect(self.path)
                    _retry_locked(lambda c=conn, r=rows, b=blobs, n=nodes: self._write(c, r, b, n))
                    self.written += len(rows)
                except Exception:
                    self.errors += len(rows)
                    self._history.clear()  # its nodes may be missing: never point a later row at them
                    import logging

                    logging.getLogger("toolwire.recorder").exception(
                        "toolwire recorder could not write %d event(s) to %s", len(rows), self.path
                    )
            for marker in markers:
                marker.done.set()
        if conn is not None:
            conn.close()

    @staticmethod
    def _write(
        conn: sqlite3.Connection | None,
        rows: list[tuple[Any, ...]],
        blobs: dict[str, tuple[str, bytes]],
        nodes: _recorded_history.Nodes,
    ) -> None:
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            if blobs:  # OR IGNORE: a hash already stored (by any row, any process) is the same bytes
                now = time.time()
                conn.executemany(
                    _INSERT_IMAGE,
                    [(sha, media, len(data), data, now) for sha, (media, data) in blobs.items()],
                )
            if nodes:  # OR IGNORE: a node id is the hash of its whole prefix, so equal ids are equal
                conn.executemany(_recorded_history.INSERT, [(node, *value) for node, value in nodes.items()])
            conn.executemany(_INSERT, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _row(
        self, entry: tuple[Any, ...], blobs: dict[str, tuple[str, bytes]], nodes: _recorded_history.Nodes
    ) -> tuple[Any, ...]:
        from ._recorded_images import ImageRefs

        if entry[0] == "chat":
            record = entry[1]
            images = [image for message in record.request.messages for image in message.images]
            return self._chat_row(*entry[1:], refs=ImageRefs(images, blobs), nodes=nodes)
        return self._tool_row(*entry[1:], refs=ImageRefs(entry[2].images(), blobs))

    def _chat_row(
        self,
        record: CallRecord,
        response: GenerateResponse | None,
        error: BaseException | None,
        duration: float,
        *,
        refs: ImageRefs,
        nodes: _recorded_history.Nodes,
    ) -> tuple[Any, ...]:
        event_id = record.extra.get("recorder_id") or uuid.uuid4().hex
        secrets = provider_secrets(record.provider)
        usage = (response.usage if response is not None else None) or {}
        values = {
            "id": event_id,
            "conversation_id": record.conversation_id or f"call-{event_id}",
            "kind": "chat",
            "provider": record.provider.name,
            "model": (response.model if response is not None and response.model else record.request.model),
            "name": None,
            "tool_call_id": None,
            "started": record.started,
            "duration_ms": duration * 1000,
            "status": "error" if error is not None else "ok",
            "error_type": type(error).__name__ if error is not None else None,
            "error": scrub(_error_text(error), secrets) if error is not None else None,
            "input_tokens": usage.get("prompt_tokens"),
            "output_tokens": usage.get("completion_tokens"),
            "total_tokens": usage.get("total_tokens"),
            "finish_reason": response.finish_reason if response is not None else None,
            "stream": int(bool(record.request.stream)),
            "request": self._request_json(record, refs, secrets, nodes),
            "response": (
                _dumps(refs.replace(_response_payload(response)), secrets) if response is not None else None
            ),
            "pid": os.getpid(),
            "recorded": time.time(),
        }
        return tuple(values[c] for c in _COLUMNS)

    # False: every row keeps its whole body inline (the schema-1 way), the baseline in
    # benchmarks/bench_recorder.py
    _incremental = True

    def _request_json(
        self, record: CallRecord, refs: ImageRefs, secrets: tuple[str, ...], nodes: _recorded_history.Nodes
    ) -> str | None:
        payload = _request_payload(record, sent=self._incremental)
        body = payload.get("body")
        key = _recorded_history.history_key(body) if self._incremental else None
        if key is not None and isinstance(body, dict):
            depth = _recorded_history.ITEM_DEPTH
            conversation = record.conversation_id
            # keyed by the secrets too: an item reused is one scrubbed with this provider's secrets
            cache_key = (conversation, record.provider.name, secrets) if conversation else None
            payload["body"] = body = dict(body)
            sent = record.extra.get("sent_body")
            body[key] = self._history.store(
                cache_key,
                body[key],
                lambda item: _dumps(refs.replace(item, depth), secrets, depth=depth) or "null",
                nodes,
                size=len(sent) if isinstance(sent, bytes) else len(body[key]) * 512,
            )
        return _dumps(refs.replace(payload), secrets)

    def _tool_row(
        self, record: ToolRecord, result: ToolResult, duration: float, *, refs: ImageRefs
    ) -> tuple[Any, ...]:
        call = record.call
        event_id = uuid.uuid4().hex
        if result.duration is not None:
            duration = result.duration
        output: Any
        try:
            output = result.output_text() if result.error is None else None
        except Exception as exc:
            output = f"<output could not be serialized: {type(exc).__name__}>"
        values = {
            "id": event_id,
            "conversation_id": record.conversation_id or f"call-{event_id}",
            "kind": "tool",
            "provider": None,
            "model": None,
            "name": call.name,
            "tool_call_id": call.id,
            "started": record.started,
            "duration_ms": duration * 1000,
            "status": "error" if result.error is not None else "ok",
            "error_type": "ToolError" if result.error is not None else None,
            "error": scrub(result.error) if result.error is not None else None,
            "input_tokens": None,
            "output_tokens": None,
            "total_tokens": None,
            "finish_reason": None,
            "stream": None,
            "request": _dumps(
                {
                    "id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                    "raw_arguments": call.raw_arguments,
                    "arguments_error": call.arguments_error,
                }
            ),
            "response": _dumps(tool_output(result, output, refs)),
            "pid": os.getpid(),
            "recorded": time.time(),
        }
        return tuple(values[c] for c in _COLUMNS)

    # -- the observer ---------------------------------------------------------------------------
    def call_started(self, record: CallRecord) -> None:
        record.extra["recorder_id"] = uuid.uuid4().hex

    def call_finished(
        self, record: CallRecord, response: GenerateResponse | None, error: BaseException | None
    ) -> None:
        if self._queue.qsize() > _KEEP_BODIES:  # a writer far behind must not hold every body sent
            record.extra.pop("sent_body", None)
        self._submit(("chat", record, response, error, time.perf_counter() - record.started_monotonic))

    def tool_started(self, record: ToolRecord) -> None:
        pass

    def tool_finished(self, record: ToolRecord, result: ToolResult) -> None:
        self._submit(("tool", record, result, time.perf_counter() - record.started_monotonic))

    def __repr__(self) -> str:
        return f"CallRecorder({str(self.path)!r}, written={self.written}, dropped={self.dropped})"


def record_calls(path: str | os.PathLike[str] | None = None, *, max_queue: int = 10000) -> CallRecorder:
    """Start recording every model call and tool execution into `path` (default: `default_db_path()`).

    Returns the running `CallRecorder`; use it as a context manager to stop at the end of a block,
    or call `.stop()`. Data is flushed at interpreter exit as well.
    """
    return CallRecorder(path, max_queue=max_queue).start()


def record(path: str | os.PathLike[str] | None = None, *, max_queue: int = 10000) -> CallRecorder:
    """Deprecated name of `record_calls` (the SQLite call log), kept for one release: `record` also
    named `toolwire.testing.record` (HTTP cassettes, now `record_http`)."""
    warnings.warn(
        "toolwire.record is deprecated: use toolwire.record_calls (the SQLite call log)",
        DeprecationWarning,
        stacklevel=2,
    )
    return record_calls(path, max_queue=max_queue)


def __getattr__(name: str) -> Any:
    if name == "Recorder":
        warnings.warn(
            "toolwire.recorder.Recorder is deprecated: use CallRecorder", DeprecationWarning, stacklevel=2
        )
        return CallRecorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_env_recorder: CallRecorder | None = None
_env_lock = threading.Lock()


def install_from_env() -> CallRecorder | None:
    """Start the recorder named by `TOOLWIRE_RECORD` (`1`/`true` = default path, else a path), once."""
    global _env_recorder
    value = os.environ.get(ENV_VAR, "").strip()
    if not value or value.lower() in {"0", "false", "no", "off"}:
        return None
    with _env_lock:
        if _env_recorder is None:
            path = None if value.lower() in {"1", "true", "yes", "on"} else value
            try:
                _env_recorder = record_calls(path)
            except (OSError, sqlite3.Error, ValueError) as exc:
                # a typo in the variable must not surface as a raw sqlite/OS error from create()
                raise ConfigurationError(
                    f"{ENV_VAR}={value!r}: cannot open the recorder database there "
                    f"({type(exc).__name__}: {exc}); set it to 1 for the default path or to a "
                    "writable file path"
                ) from exc
        return _env_recorder


def active_recorders() -> list[CallRecorder]:
    return list(_active)


@atexit.register
def _flush_at_exit() -> None:
    for recorder in list(_active):
        try:
            recorder.stop(timeout=5.0)
        except Exception:
            pass


# -- reading ---------------------------------------------------------------------------------------
_JSON_FIELDS = ("request", "response")


class CallStore:
    """Read access for the CLI and the dashboard: conversations, their events, one event."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = _resolve(path)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        conn = connect(self.path)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def conversations(
        self,
        *,
        provider: str | None = None,
        model: str | None = None,
        errors: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Newest first. `errors=True`: only conversations with an error; False: only clean ones."""
        sql = """
            SELECT conversation_id,
                   MIN(started) AS started,
                   MAX(started + COALESCE(duration_ms, 0) / 1000.0) AS ended,
                   SUM(kind = 'chat') AS model_calls,
                   SUM(kind = 'tool') AS tool_calls,
                   SUM(status = 'error') AS errors,
                   SUM(COALESCE(input_tokens, 0)) AS input_tokens,
                   SUM(COALESCE(output_tokens, 0)) AS output_tokens,
                   GROUP_CONCAT(DISTINCT provider) AS providers,
                   GROUP_CONCAT(DISTINCT model) AS models
            FROM events
            GROUP BY conversation_id
            HAVING (:provider IS NULL OR SUM(provider = :provider) > 0)
               AND (:model IS NULL OR SUM(model = :model) > 0)
               AND (:errors IS NULL OR (SUM(status = 'error') > 0) = :errors)
            ORDER BY started DESC
            LIMIT :limit OFFSET :offset
        """
        params = {
            "provider": provider,
            "model": model,
            "errors": None if errors is None else int(errors),
            "limit": limit,
            "offset": offset,
        }
        with self._conn() as conn:
            if conn is None:
                return []
            out = []
            for row in conn.execute(sql, params):
                item = dict(row)
                item["providers"] = sorted(filter(None, (item["providers"] or "").split(",")))
                item["models"] = sorted(filter(None, (item["models"] or "").split(",")))
                item["duration_ms"] = (item["ended"] - item["started"]) * 1000
                out.append(item)
            return out

    def events(self, conversation_id: str, *, details: bool = True) -> list[dict[str, Any]]:
        """One conversation's events in start order (with request/response JSON when `details`)."""
        columns = "*" if details else ", ".join(c for c in _COLUMNS if c not in _JSON_FIELDS)
        with self._conn() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                f"SELECT {columns} FROM events WHERE conversation_id = ? ORDER BY started, recorded",
                (conversation_id,),
            )
            return [self._decode(dict(r), conn) for r in rows.fetchall()]

    def event(self, event_id: str) -> dict[str, Any] | None:
        """One event by id, or by a unique id prefix (as `toolwire calls show` accepts)."""
        with self._conn() as conn:
            if conn is None:
                return None
            rows = conn.execute(
                "SELECT * FROM events WHERE id = ? OR id LIKE ? LIMIT 2", (event_id, event_id + "%")
            ).fetchall()
            exact = [r for r in rows if r["id"] == event_id]
            if exact:
                return self._decode(dict(exact[0]), conn)
            return self._decode(dict(rows[0]), conn) if len(rows) == 1 else None

    def recent(
        self,
        *,
        provider: str | None = None,
        model: str | None = None,
        errors: bool | None = None,
        kind: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The latest events, newest first, without request/response bodies."""
        columns = ", ".join(c for c in _COLUMNS if c not in _JSON_FIELDS)
        sql = (
            f"SELECT {columns} FROM events WHERE (:provider IS NULL OR provider = :provider)"
            " AND (:model IS NULL OR model = :model) AND (:kind IS NULL OR kind = :kind)"
            " AND (:errors IS NULL OR (status = 'error') = :errors)"
            " ORDER BY started DESC LIMIT :limit"
        )
        params = {
            "provider": provider,
            "model": model,
            "kind": kind,
            "errors": None if errors is None else int(errors),
            "limit": limit,
        }
        with self._conn() as conn:
            if conn is None:
                return []
            return [dict(r) for r in conn.execute(sql, params)]

    def facets(self) -> dict[str, list[str]]:
        """Distinct providers and models, for filter menus."""
        with self._conn() as conn:
            if conn is None:
                return {"providers": [], "models": []}
            distinct = "SELECT DISTINCT {0} FROM events WHERE {0} IS NOT NULL ORDER BY 1"
            providers = [r[0] for r in conn.execute(distinct.format("provider"))]
            models = [r[0] for r in conn.execute(distinct.format("model"))]
            return {"providers": providers, "models": models}

    def image(self, sha256: str) -> tuple[str, bytes] | None:
        """A stored image's (media type, bytes) by its hash, or None."""
        with self._conn() as conn:
            if conn is None:
                return None
            row = conn.execute("SELECT media_type, data FROM images WHERE sha256 = ?", (sha256,)).fetchone()
            return (str(row[0]), bytes(row[1])) if row is not None else None

    @staticmethod
    def _decode(row: dict[str, Any], conn: sqlite3.Connection) -> dict[str, Any]:
        for name in _JSON_FIELDS:
            value = row.get(name)
            if isinstance(value, str):
                try:
                    # NaN/Infinity (stored as such by older versions) read as strings: strict
                    # JSON readers (the dashboard's responses, browsers) refuse the bare tokens
                    row[name] = json.loads(value, parse_constant=str)
                except (ValueError, RecursionError):
                    pass
        if row.get("kind") == "chat" and "request" in row:
            row["request"] = _recorded_history.expand(conn, row["request"])
        return row
