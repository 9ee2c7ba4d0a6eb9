"""Tag concurrency limits (Prefect 1's): at most N task runs carrying tag T run at once,
across every flow run recorded in one database.

A limit is a row of ``concurrency_limits`` (``tag``, ``slots``); a task run that runs
holds one row of ``concurrency_slots`` per limited tag it carries (``tag``, ``holder``:
the task run, ``run_id``: its flow run). :func:`acquire_slots` takes one slot of *every*
limited tag of a task run in one transaction, or none of them:

* PostgreSQL: the limits' rows are locked in tag order (``SELECT ... FOR UPDATE``), so
  two acquirers of one tag take turns and each counts the slots the other committed
  (read committed: each statement sees what committed before it); locking in one order
  means two task runs with tags ``[a, b]`` and ``[b, a]`` never deadlock.
* SQLite: the transaction is ``BEGIN IMMEDIATE``: one writer at a time.

Acquiring again for a holder that holds a tag already counts that slot as held (an
acquisition retried after a lost answer takes nothing twice). :func:`release_slots`
deletes a holder's rows. A tag with no limit costs nothing: no row is written for it.

A limit of 0 is allowed, as in Prefect 1: task runs carrying that tag never start
(they wait) until the limit is raised or deleted.

Slots of flow runs that ended, crashed or were cancelled are freed by
:func:`free_slots` (the server's maintenance thread calls it every heartbeat period),
and, for the tags it is blocked on, by an acquisition that finds them full. A slot of a
flow run the database does not know yet (a run recorded through a server whose start
is still on its way) is kept for :data:`UNKNOWN_RUN_GRACE` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from ferroflow.store.schema import concurrency_limits, concurrency_slots, runs
from ferroflow.store.slots import Acquired

__all__ = ["LIVE_STATES", "MAX_TAG", "UNKNOWN_RUN_GRACE", "Acquired", "ConcurrencyLimit", "LimitError",
           "UnknownLimitError", "acquire_slots", "check_tag", "delete_limit", "free_slots", "get_limit",
           "limited_tags", "list_limits", "release_run", "release_slots", "set_limit"]

#: Longest tag (as the server's models allow).
MAX_TAG = 100
#: States of a flow run whose task runs may hold slots: it has not ended. (A run is
#: ``Running`` when its task runs take slots; ``Scheduled``, ``Late`` and ``Pending``
#: count too, for a run whose start is still on its way through a server.) Slots of
#: runs in any other state are freed.
LIVE_STATES = ("Running", "Cancelling", "Pending", "Scheduled", "Late")
#: States of a flow run whose task runs may take slots: not ``Cancelling``, not ended.
_MAY_ACQUIRE = ("Running", "Pending", "Scheduled", "Late")
#: Seconds a slot of a flow run not recorded in the database is kept.
UNKNOWN_RUN_GRACE = 600.0


class LimitError(ValueError):
    """An invalid tag or number of slots (the message says why)."""


class UnknownLimitError(LookupError):
    """No concurrency limit for this tag."""

    def __init__(self, tag: str):
        super().__init__(f"there is no concurrency limit for tag {tag!r} (see `ferroflow concurrency-limit ls`)")
        self.tag = tag

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ConcurrencyLimit:
    """A tag's limit: ``slots`` task runs at once; ``in_use`` slots held now."""

    tag: str
    slots: int
    in_use: int
    created_at: float
    updated_at: float

    def to_dict(self) -> dict:
        """The limit as a JSON object."""
        return asdict(self)


def check_tag(tag: Any) -> str:
    """``tag`` if it is a valid tag (1 to :data:`MAX_TAG` characters, no NUL), else
    :class:`LimitError`."""
    if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG or "\x00" in tag:
        raise LimitError(f"a tag is 1 to {MAX_TAG} characters without NUL, got {str(tag)[:120]!r}")
    return tag


def _check_slots(slots: Any) -> int:
    if isinstance(slots, bool) or not isinstance(slots, int) or not 0 <= slots <= 1_000_000:
        raise LimitError(f"a limit is a whole number of slots from 0 (the tag never runs) to 1000000, got {slots!r}")
    return slots


def _writing(engine: Engine) -> Connection:
    """A connection whose transactions are write transactions from their start
    (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.connect().execution_options(ferroflow_write=True)


def _insert(conn: Connection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(concurrency_limits)


def set_limit(engine: Engine, tag: str, slots: int) -> tuple[ConcurrencyLimit, bool]:
    """Set tag ``tag``'s limit to ``slots`` (0: its task runs never start). Returns
    ``(limit, created)``. Lowering a limit below the slots in use takes none back:
    new task runs wait until enough were released."""
    check_tag(tag)
    _check_slots(slots)
    now = time.time()
    with _writing(engine) as conn, conn.begin():
        existed = conn.execute(select(concurrency_limits.c.tag).where(concurrency_limits.c.tag == tag)).first()
        upsert = _insert(conn).values(tag=tag, slots=slots, created_at=now, updated_at=now)
        conn.execute(upsert.on_conflict_do_update(index_elements=[concurrency_limits.c.tag],
                                                  set_={"slots": slots, "updated_at": now}))
    return get_limit(engine, tag), existed is None


def _in_use(conn: Connection, tags: Iterable[str] | None = None) -> dict:
    query = select(concurrency_slots.c.tag, func.count()).group_by(concurrency_slots.c.tag)
    if tags is not None:
        query = query.where(concurrency_slots.c.tag.in_(list(tags)))
    return {tag: count for tag, count in conn.execute(query).all()}


def get_limit(engine: Engine, tag: str) -> ConcurrencyLimit:
    """Tag ``tag``'s limit and the slots in use; :class:`UnknownLimitError` if none."""
    with engine.connect() as conn:
        row = conn.execute(select(concurrency_limits).where(concurrency_limits.c.tag == tag)).first()
        if row is None:
            raise UnknownLimitError(tag)
        used = _in_use(conn, [tag]).get(tag, 0)
    return ConcurrencyLimit(row.tag, row.slots, used, row.created_at, row.updated_at)


def list_limits(engine: Engine) -> list[ConcurrencyLimit]:
    """Every limit, by tag, with the slots in use."""
    with engine.connect() as conn:
        rows = conn.execute(select(concurrency_limits).order_by(concurrency_limits.c.tag)).all()
        used = _in_use(conn)
    return [ConcurrencyLimit(r.tag, r.slots, used.get(r.tag, 0), r.created_at, r.updated_at) for r in rows]


def delete_limit(engine: Engine, tag: str) -> None:
    """Delete tag ``tag``'s limit (its task runs are no longer limited; the slots held
    go too). :class:`UnknownLimitError` if it has none."""
    with _writing(engine) as conn, conn.begin():
        gone = conn.execute(delete(concurrency_limits).where(concurrency_limits.c.tag == tag)).rowcount
        conn.execute(delete(concurrency_slots).where(concurrency_slots.c.tag == tag))
    if not gone:
        raise UnknownLimitError(tag)


def limited_tags(engine: Engine, tags: Iterable[str]) -> set:
    """Which of ``tags`` have a limit."""
    wanted = sorted({str(t) for t in tags})
    if not wanted:
        return set()
    found: set = set()
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            found.update(conn.execute(select(concurrency_limits.c.tag)
                                      .where(concurrency_limits.c.tag.in_(wanted[start:start + 500]))).scalars())
    return found


def _stale(conn: Connection, tags: list | None, now: float) -> Any:
    """Delete the slots (of ``tags``; None: all) of flow runs that ended (or that the
    database never heard of for :data:`UNKNOWN_RUN_GRACE` seconds); the count deleted."""
    ended = select(runs.c.run_id).where(runs.c.run_id == concurrency_slots.c.run_id,
                                        runs.c.state.not_in(LIVE_STATES))
    known = select(runs.c.run_id).where(runs.c.run_id == concurrency_slots.c.run_id)
    gone = ended.exists() | (~known.exists() & (concurrency_slots.c.acquired_at < now - UNKNOWN_RUN_GRACE))
    statement = delete(concurrency_slots).where(gone)
    if tags is not None:
        statement = statement.where(concurrency_slots.c.tag.in_(tags))
    return conn.execute(statement).rowcount


def acquire_slots(engine: Engine, run_id: str, holder: str, tags: Iterable[str]) -> Acquired:
    """Take one slot of each limited tag of ``tags`` for task run ``holder`` of flow run
    ``run_id``, all in one transaction or none (see the module docstring). Tags with no
    limit are ignored; slots ``holder`` holds already count as taken. Refused
    (``run_state`` set) when the flow run is recorded ``Cancelling`` or ended."""
    wanted = sorted({check_tag(t) for t in tags})
    if not wanted:
        return Acquired(True, [])
    now = time.time()
    with _writing(engine) as conn, conn.begin():
        query = select(concurrency_limits.c.tag, concurrency_limits.c.slots) \
            .where(concurrency_limits.c.tag.in_(wanted)).order_by(concurrency_limits.c.tag)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        limits: dict = {tag: slots for tag, slots in conn.execute(query).all()}
        if not limits:
            return Acquired(True, [])
        state = conn.execute(select(runs.c.state).where(runs.c.run_id == run_id)).scalar()
        if state is not None and state not in _MAY_ACQUIRE:
            return Acquired(False, [], state)
        limited = sorted(limits)
        held = set(conn.execute(select(concurrency_slots.c.tag).where(
            concurrency_slots.c.holder == holder, concurrency_slots.c.tag.in_(limited))).scalars())
        needed = [t for t in limited if t not in held]

        def blocked() -> list:
            used = _in_use(conn, needed)
            return [t for t in needed if used.get(t, 0) >= limits[t]]

        full = blocked()
        if full and _stale(conn, full, now):
            full = blocked()
        if full:
            return Acquired(False, full)
        if needed:
            conn.execute(concurrency_slots.insert(), [{"tag": t, "run_id": run_id, "holder": holder,
                                                       "acquired_at": now} for t in needed])
    return Acquired(True, [])


def release_slots(engine: Engine, holder: str) -> int:
    """Free every slot task run ``holder`` holds; how many."""
    with _writing(engine) as conn, conn.begin():
        return conn.execute(delete(concurrency_slots).where(concurrency_slots.c.holder == holder)).rowcount


def release_run(engine: Engine, run_id: str) -> int:
    """Free every slot the task runs of flow run ``run_id`` hold (the run ended); how
    many."""
    with _writing(engine) as conn, conn.begin():
        return conn.execute(delete(concurrency_slots).where(concurrency_slots.c.run_id == run_id)).rowcount


def free_slots(engine: Engine) -> int:
    """Free the slots of flow runs that ended (``Success``, ``Failed``, ``Cancelled``,
    ``Paused``, ``Crashed``: marked by the reaper, ``Unknown``), and of
    runs the database has not known for :data:`UNKNOWN_RUN_GRACE` seconds; how many.
    The server's maintenance thread calls it every period."""
    with _writing(engine) as conn, conn.begin():
        return int(_stale(conn, None, time.time()))

