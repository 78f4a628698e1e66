"""History of generated signals and ML predictions (SQLAlchemy: SQLite file or PostgreSQL).

Each row keeps the searchable columns plus the full response as JSON, so the `tail` endpoints return
exactly what the caller got back at the time. Rows are written behind the request (`write_behind.py`):
`add_*` queues the row and returns; a background writer inserts them in batches. Reads (`tail_*`,
`count`) flush first, so a caller reads its own writes; `close()` stores every queued row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from crypto_mlops.service.write_behind import DEFAULT_MAX_QUEUE, WriteBehind

log = logging.getLogger(__name__)

metadata = sa.MetaData()
RAW_CHUNK = 64  # rows per driver call when the writer inserts straight through the driver (SQLite)


def _record_columns() -> list[sa.Column[Any]]:
    """Columns every history table starts with (fresh objects per table: a Column belongs to one table)."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("symbol", sa.String(32), nullable=False, index=True),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("candle_time", sa.String(32), nullable=False),
    ]


signals_table = sa.Table(
    "signals",
    metadata,
    *_record_columns(),
    sa.Column("horizon_min", sa.Integer, nullable=False),
    sa.Column("risk_score", sa.Float, nullable=False),
    sa.Column("nowcast_ret", sa.Float, nullable=False),
    sa.Column("vol", sa.Float, nullable=False),
    sa.Column("vol_regime", sa.String(16), nullable=False),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)

ml_predictions_table = sa.Table(
    "ml_predictions",
    metadata,
    *_record_columns(),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("model_type", sa.String(64), nullable=False),
    sa.Column("predicted_rv_24h", sa.Float, nullable=False),
    sa.Column("predicted_volatility", sa.Float, nullable=False),
    sa.Column("current_volatility", sa.Float, nullable=False),
    sa.Column("volatility_regime", sa.String(16), nullable=False),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)


def make_engine(url: str) -> Engine:
    """Engine for `url`; creates the directory of a SQLite file and shares one connection for :memory:."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            return sa.create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool, future=True)
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, future=True)
        sa.event.listen(engine, "connect", _sqlite_wal)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, future=True)


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    # WAL + synchronous=NORMAL: a commit no longer waits for an fsync of the whole journal (~10x faster
    # inserts here); committed rows survive a crash of the process, only an OS crash may lose the last ones.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# The full response, or a function that builds it: the writer thread then pays for the serialisation.
Payload = dict[str, Any] | Callable[[], dict[str, Any]]
# The same response already as the JSON text the column stores (`json.dumps` of it), when the caller can
# make that text cheaply (a reused answer: encoded once, its timestamp spliced in).
EncodedPayload = Callable[[], str]


class PendingRow(NamedTuple):
    table: sa.Table
    created_at: datetime
    row: dict[str, Any]
    payload: Payload
    encoded: EncodedPayload | None = None

    def values(self) -> dict[str, Any]:
        payload = self.payload() if callable(self.payload) else self.payload
        return {"created_at": self.created_at, **self.row, "payload": payload}


class RawInsert:
    """A table's INSERT as one DB-API `executemany` of parameter tuples (SQLite).

    SQLAlchemy's executemany costs ~20 µs of Python per row (parameter dicts, bind processing,
    `json.dumps` of the payload), all of it holding the GIL in the writer thread: under load that thread
    held the GIL for a quarter of the samples and the event loop waited on it. Here each column keeps its
    dialect's own bind processor (the stored text is the same), and a payload that comes encoded is
    stored as it is.
    """

    def __init__(self, table: sa.Table, dialect: sa.Dialect) -> None:
        row = [c for c in table.columns if not c.primary_key and c.name not in ("created_at", "payload")]
        columns = [table.c.created_at, *row, table.c.payload]
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c.name) for c in columns)
        self.sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' for _ in columns)})"
        self.created_at = _bind_processor(table.c.created_at, dialect)
        self.dump_payload = _bind_processor(table.c.payload, dialect)
        self.row_columns = [(c.name, _bind_processor(c, dialect)) for c in row]

    def params(self, pending: PendingRow) -> tuple[Any, ...]:
        row = pending.row
        created = self.created_at(pending.created_at) if self.created_at else pending.created_at
        cells = [row.get(name) if process is None else process(row.get(name)) for name, process in self.row_columns]
        payload: Any
        if pending.encoded is not None:
            payload = pending.encoded()
        else:
            value = pending.payload() if callable(pending.payload) else pending.payload
            payload = self.dump_payload(value) if self.dump_payload else value
        return (created, *cells, payload)


def _bind_processor(column: sa.Column[Any], dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy applies to a value of `column` before the driver sees it (None: nothing)."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


class HistoryStore:
    def __init__(self, url: str, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        self.write_errors = 0
        self.rows_written = 0
        self.writer: WriteBehind[PendingRow] = WriteBehind(self._store, max_queue=max_queue, name="history-writer")
        # SQLite (qmark parameters): batches go straight to the driver; other databases through SQLAlchemy.
        dialect = self.engine.dialect
        tables = (signals_table, ml_predictions_table)
        raw = dialect.name == "sqlite" and dialect.paramstyle == "qmark"
        self._raw = {t: RawInsert(t, dialect) for t in tables} if raw else {}

    @property
    def dropped(self) -> int:
        """Rows dropped because the write-behind queue was full (the database could not keep up)."""
        return self.writer.dropped

    @property
    def pending(self) -> int:
        return len(self.writer)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row added so far is stored (or failed); False on timeout."""
        return self.writer.flush(timeout)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def add_signal(
        self, created_at: datetime, row: dict[str, Any], payload: Payload, encoded: EncodedPayload | None = None
    ) -> None:
        self._add(PendingRow(signals_table, created_at, row, payload, encoded))

    def add_ml_prediction(
        self, created_at: datetime, row: dict[str, Any], payload: Payload, encoded: EncodedPayload | None = None
    ) -> None:
        self._add(PendingRow(ml_predictions_table, created_at, row, payload, encoded))

    def tail_signals(self, n: int, symbol: str | None = None) -> list[dict[str, Any]]:
        return self._tail(signals_table, n, symbol)

    def tail_ml_predictions(self, n: int, symbol: str | None = None) -> list[dict[str, Any]]:
        return self._tail(ml_predictions_table, n, symbol)

    def count(self, table: str) -> int:
        self.flush()
        target = signals_table if table == "signals" else ml_predictions_table
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one())

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    def close(self) -> None:
        """Store every queued row, stop the writer and release the connections."""
        self.writer.close()
        self.engine.dispose()

    def _add(self, pending: PendingRow) -> None:
        if self.writer.closed:  # after close(): nothing drains the queue any more, write it now
            self._store([pending])
        elif not self.writer.put(pending):
            log.warning("history queue full: %s row dropped (%d so far)", pending.table.name, self.writer.dropped)

    def _store(self, batch: Sequence[PendingRow]) -> None:
        """One transaction per table; if it fails, row by row, so that one bad row costs only itself."""
        by_table: dict[sa.Table, list[PendingRow]] = defaultdict(list)
        for pending in batch:
            by_table[pending.table].append(pending)
        for table, pendings in by_table.items():
            raw = self._raw.get(table)
            if raw is not None and self._store_raw(raw, pendings):
                continue
            rows: list[dict[str, Any]] = []
            for pending in pendings:
                try:
                    rows.append(pending.values())
                except Exception as exc:
                    self._failed(pending.table, 1, exc)
            try:
                with self.engine.begin() as conn:
                    conn.execute(table.insert(), rows)
                self.rows_written += len(rows)
            except Exception:
                for values in rows:
                    self._insert_one(table, values)

    def _store_raw(self, raw: RawInsert, pendings: list[PendingRow]) -> bool:
        """The batch in one `executemany`; False (nothing stored) when any row fails: the caller retries them."""
        try:
            with self.engine.begin() as conn:
                # In chunks: the driver lets go of the GIL between rows, so a waiting event loop gets it
                # back after one chunk's Python work (~0.3 ms), not after the whole batch's.
                for start in range(0, len(pendings), RAW_CHUNK):
                    conn.exec_driver_sql(raw.sql, [raw.params(p) for p in pendings[start : start + RAW_CHUNK]])
        except Exception:
            return False
        self.rows_written += len(pendings)
        return True

    def _insert_one(self, table: sa.Table, values: dict[str, Any]) -> None:
        # History must never break the request that produced it: log and count the failure instead.
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), [values])
            self.rows_written += 1
        except Exception as exc:
            self._failed(table, 1, exc)

    def _failed(self, table: sa.Table, n: int, exc: Exception) -> None:
        self.write_errors += n
        log.error("could not store %s row: %s", table.name, exc)

    def _tail(self, table: sa.Table, n: int, symbol: str | None) -> list[dict[str, Any]]:
        self.flush()
        query = sa.select(table.c.payload).order_by(table.c.id.desc()).limit(n)
        if symbol:
            query = query.where(table.c.symbol == symbol)
        with self.engine.connect() as conn:
            rows = [row[0] for row in conn.execute(query)]
        rows.reverse()  # oldest first, like the tail of the seed's JSONL file
        return rows
