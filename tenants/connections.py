"""Tenant database aliases, registered on demand and bounded per process.

Django computes `connections.settings` once and keeps one wrapper per thread and
alias, so aliases added at runtime need care (docs/architecture.md):

- each tenant has one stable alias, never reused for another database;
- the settings dict is replaced copy-on-write, never mutated, because other
  threads iterate it (close_old_connections, make_view_atomic);
- a thread keeps its connection to a tenant open between contexts (persistent,
  like CONN_MAX_AGE=None): a warm request opens nothing, and a cold one opens
  one connection in the calling thread, with no pool or worker thread behind it;
- at most TENANT_CONNECTION_LRU_SIZE connections stay open in the process; the
  least recently used alias with no active context is evicted (all its
  threads' connections closed), and aliases idle for
  TENANT_CONNECTION_IDLE_SECONDS are swept by a background thread;
- a thread drops its own wrappers of evicted aliases when it next enters or
  leaves a context; a connection the server hung up on is dropped on entry.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import (
    DEFAULT_DB_ALIAS,
    close_old_connections,
    connections,
    reset_queries,
)
from django.db.backends.signals import connection_created

from telemetry import metrics

if TYPE_CHECKING:
    from asgiref.local import Local
    from django.db.backends.base.base import BaseDatabaseWrapper
    from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

DBSettings = dict[str, Any]
"""One alias's settings dict, as in settings.DATABASES."""


class _HandlerInternals(Protocol):
    """Private attributes of Django's ConnectionHandler that django-stubs omits."""

    _connections: Local  # this thread's wrappers, by alias
    _settings: dict[str, DBSettings]


class _PGWrapperInternals(Protocol):
    """Private class attribute of the PostgreSQL DatabaseWrapper (not in the stubs)."""

    _connection_pools: dict[str, ConnectionPool]


def _wrappers() -> Local:
    """This thread's connection wrappers (`connections._connections`)."""
    return cast(_HandlerInternals, connections)._connections


def failed_in_this_thread(alias: str) -> bool:
    """Whether this thread's wrapper for `alias` saw an error since it last worked.

    Django sets `errors_occurred` on the wrapper whose call failed, so it tells
    a tenant database's failure from the registry's. No wrapper: unknown (False).
    """
    wrapper = getattr(_wrappers(), alias, None)
    return bool(wrapper is not None and wrapper.errors_occurred)


def postgres_pools() -> dict[str, ConnectionPool]:
    """PostgreSQL's process-wide pools (`DatabaseWrapper._connection_pools`)."""
    from django.db.backends.postgresql.base import DatabaseWrapper as PGWrapper

    return cast(_PGWrapperInternals, PGWrapper)._connection_pools


@dataclass
class _AliasState:
    refs: int = 0
    last_used: float = field(default_factory=time.monotonic)
    doomed: bool = False  # forgotten while in use: unregister at the last release
    # Wrappers (by thread) keeping a connection open between contexts. Keyed by
    # the thread itself, not its id: ids are reused, threads are not, so a
    # finished thread's connection is still counted until its alias goes.
    holders: dict[threading.Thread, BaseDatabaseWrapper] = field(default_factory=dict)
    users: Counter[threading.Thread] = field(default_factory=Counter)  # in a context

    @property
    def slots(self) -> int:
        """Connections this alias may hold now: one per thread using or keeping one."""
        # Counted without building a set: it runs four times per request.
        holders = self.holders
        using = sum(1 for t, n in self.users.items() if n > 0 and t not in holders)
        return max(1, len(holders) + using)


_lock = threading.RLock()
_state: OrderedDict[str, _AliasState] = OrderedDict()
_reserved = 0  # sum of the aliases' slots, kept as they change (under _lock)
_local = threading.local()
_sweeper: threading.Thread | None = None
_sweeper_stop = threading.Event()


def normalise(alias: str, config: DBSettings) -> DBSettings:
    """Fill in every key Django expects (a partial dict fails at first query)."""
    return cast(
        DBSettings,
        connections.configure_settings({DEFAULT_DB_ALIAS: {}, alias: config})[alias],
    )


def _publish(new: dict[str, DBSettings]) -> None:
    # `settings` is a cached_property: assigning replaces the cached dict.
    cast(_HandlerInternals, connections)._settings = new
    connections.settings = new
    metrics.tenant_aliases.set(len(new) - 1)  # all but the registry's


def _count_connect(sender: object, connection: BaseDatabaseWrapper, **_: Any) -> None:
    if connection.alias != DEFAULT_DB_ALIAS:
        metrics.tenant_alias_events.labels("connect").inc()


connection_created.connect(_count_connect)


def registered_aliases() -> list[str]:
    """Tenant aliases registered in this process, least recently used first."""
    with _lock:
        return list(_state)


def reserved_connections() -> int:
    """Connections the process holds or may open now; never above the bound
    unless every alias is in use (one per thread inside a context)."""
    # Under the lock: an acquire registers its alias before it evicts, so
    # the total is one over the bound between those steps (no connection
    # opens then: that happens after the lock is released).
    with _lock:
        return _reserved


def _account(st: _AliasState, before: int) -> None:
    """Carry a change of `st`'s slots (it had `before`) into the total."""
    global _reserved
    _reserved += st.slots - before


def acquire(alias: str, make_config: Callable[[], DBSettings]) -> str:
    """Register `alias` if needed and pin it until `release(alias)`."""
    _ensure_sweeper()
    with _lock:
        if alias not in _state:
            config = normalise(alias, make_config())
            config["ATOMIC_REQUESTS"] = False
            _publish({**connections.settings, alias: config})
            _state[alias] = _AliasState()
            _account(_state[alias], 0)
            metrics.tenant_alias_events.labels("miss").inc()
        st = _state[alias]
        st.refs += 1
        before = st.slots
        st.users[threading.current_thread()] += 1
        _account(st, before)
        st.last_used = time.monotonic()
        _state.move_to_end(alias)
        victims = _pick_victims_locked(time.monotonic(), include_lru=True)
        # Closed before the lock is released: another thread's new connection
        # must not open while an evicted one still counts against the bound.
        for victim, config in _unpublish_locked(victims):
            _close_globally(victim, config)
    try:
        _drop_stale_wrapper(alias)
        _drop_if_hung_up(alias)
    except BaseException:
        release(alias)  # the pin must not outlive a failed entry
        raise
    _touched().add(alias)
    return alias


def release(alias: str) -> None:
    """Unpin an alias; this thread's connection stays open for its next context."""
    wrapper = getattr(_wrappers(), alias, None)
    try:
        if wrapper is not None and not wrapper.in_atomic_block:
            # After an error: closed unless it still answers (Django's rule).
            wrapper.close_if_unusable_or_obsolete()
    finally:
        _unpin(alias, wrapper)
    release_stale_wrappers()


def _unpin(alias: str, wrapper: BaseDatabaseWrapper | None) -> None:
    with _lock:
        st = _state.get(alias)
        if st is not None:
            st.refs = max(0, st.refs - 1)
            st.last_used = time.monotonic()
            thread = threading.current_thread()
            before = st.slots
            st.users[thread] -= 1
            current = connections.settings.get(alias)
            if (
                wrapper is not None
                and wrapper.connection is not None
                and wrapper.settings_dict is current
            ):
                st.holders[thread] = wrapper
            else:
                st.holders.pop(thread, None)
            _account(st, before)
            if st.doomed and st.refs == 0:
                for victim, config in _unpublish_locked([alias]):
                    _close_globally(victim, config)


def forget(alias: str) -> None:
    """Unregister an alias (its database moved or was dropped, or a one-off use).

    An alias other threads are using is only marked: the last of them to
    release it unregisters it, so nobody loses a connection mid-request.
    """
    with _lock:
        st = _state.get(alias)
        if st is not None and st.refs > 0:
            st.doomed = True
        else:
            for victim, config in _unpublish_locked([alias] if st else []):
                _close_globally(victim, config)
    release_stale_wrappers()


def forget_all() -> None:
    """Unregister every tenant alias (tests, worker shutdown)."""
    with _lock:
        for victim, config in _unpublish_locked(list(_state)):
            _close_globally(victim, config)
    release_stale_wrappers()


def sweep_idle() -> list[str]:
    """Close aliases idle longer than the timeout; returns what was closed."""
    with _lock:
        victims = _pick_victims_locked(time.monotonic(), include_lru=False)
        for victim, config in _unpublish_locked(victims):
            _close_globally(victim, config)
    return victims


def release_stale_wrappers(**_: object) -> None:
    """Close this thread's wrappers for aliases no longer registered."""
    current = connections.settings
    if getattr(_local, "checked", None) is current:
        return  # nothing unregistered since: every publish makes a new dict
    _local.checked = current
    touched = _touched()
    for alias in list(touched):
        if alias in current:
            continue
        touched.discard(alias)
        try:
            wrapper = getattr(_wrappers(), alias)
        except AttributeError:
            continue
        try:
            wrapper.close()
        except Exception:  # a dead connection still has to go
            logger.debug("closing stale wrapper %s failed", alias, exc_info=True)
        delattr(_wrappers(), alias)


def close_old_static_connections(**_: object) -> None:
    """Django's `close_old_connections`, for the aliases of settings.DATABASES only.

    Django's own runs as each request starts and ends and checks every alias
    this thread keeps a connection for: two checks a request per tenant kept
    open (a quarter of a millisecond with an LRU of 100). A tenant's connection
    is checked by `release` when its context ends, so here only the registry's
    (and any other static alias's) need it: returned to the pool, closed when
    unusable or past CONN_MAX_AGE.
    """
    for wrapper in _static_wrappers():
        wrapper.close_if_unusable_or_obsolete()


def _static_wrappers() -> Iterator[BaseDatabaseWrapper]:
    """This thread's wrappers of settings.DATABASES' aliases (the registry's)."""
    wrappers = _wrappers()
    for alias in settings.DATABASES:
        if (wrapper := getattr(wrappers, alias, None)) is not None:
            yield wrapper


def reset_static_queries(**_: object) -> None:
    """Django's `reset_queries`, for settings.DATABASES' aliases only (and,
    under DEBUG, the tenants this thread touched).

    Django's looks up every alias registered in the process as each request
    starts: 0.4 ms a request with 100 tenants kept, 3.6 ms with 550, on the
    benchmarks' slower machine. A tenant wrapper logs queries only under DEBUG
    or while a test captures them (`force_debug_cursor`, whose log must stay),
    and keeps at most `queries_limit` of them.
    """
    aliases = (
        (_touched() | set(settings.DATABASES)) if settings.DEBUG else settings.DATABASES
    )
    wrappers = _wrappers()
    for alias in aliases:
        wrapper = getattr(wrappers, alias, None)
        if wrapper is not None and not wrapper.force_debug_cursor:
            wrapper.queries_log.clear()


def set_static_rollback() -> None:
    """DRF's `set_rollback` (an error answer rolls back the ATOMIC_REQUESTS
    transaction) over settings.DATABASES' aliases: a tenant's never has
    ATOMIC_REQUESTS (`acquire`), and DRF's looks up every alias registered."""
    for wrapper in _static_wrappers():
        if wrapper.settings_dict.get("ATOMIC_REQUESTS") and wrapper.in_atomic_block:
            wrapper.set_rollback(True)


def check_static_connections_per_request() -> None:
    """Put the request handlers above in the place of Django's."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
        signal.connect(close_old_static_connections)  # once: keyed by the function
    request_started.disconnect(reset_queries)
    request_started.connect(reset_static_queries)


def _touched() -> set[str]:
    touched = getattr(_local, "aliases", None)
    if touched is None:
        touched = _local.aliases = set()
    return touched


def _pick_victims_locked(now: float, *, include_lru: bool) -> list[str]:
    """With `include_lru` (on acquire): the oldest unused aliases past the
    bound, in O(1) when under it. Without (the sweeper): the idle ones."""
    if include_lru:
        over = _reserved - settings.TENANT_CONNECTION_LRU_SIZE
        victims: list[str] = []
        for alias, st in _state.items():  # oldest first
            if over <= 0:
                break
            if st.refs == 0:
                victims.append(alias)
                over -= st.slots
        return victims
    idle = settings.TENANT_CONNECTION_IDLE_SECONDS
    return [
        alias
        for alias, st in _state.items()
        if st.refs == 0 and now - st.last_used >= idle
    ]


def _unpublish_locked(victims: list[str]) -> list[tuple[str, DBSettings]]:
    """Remove aliases from the settings; returns each with its (old) config."""
    if not victims:
        return []
    gone = set(victims)
    current = connections.settings
    removed = [(alias, current[alias]) for alias in victims if alias in current]
    _publish({k: v for k, v in current.items() if k not in gone})
    global _reserved
    for alias in victims:
        st = _state.pop(alias, None)
        if st is None:
            continue
        metrics.tenant_alias_events.labels("eviction").inc()
        _reserved -= st.slots
        for wrapper in st.holders.values():
            _close_connection_of(wrapper)
    return removed


def _close_connection_of(wrapper: BaseDatabaseWrapper) -> None:
    """Close another thread's idle connection (psycopg's close is thread-safe).

    Its wrapper is left to that thread, which drops it on its next entry: the
    alias's settings dict it was built from is no longer published.
    """
    raw = wrapper.connection
    if raw is None:
        return
    try:
        raw.close()
    except Exception:
        logger.debug("closing a connection of %s failed", wrapper.alias, exc_info=True)


def _close_globally(alias: str, config: DBSettings) -> None:
    """Close what the process holds for `alias`; callable from any thread."""
    # Wrappers left in other threads still hold this (now unpublished) dict;
    # a pool, if one was configured, must not quietly be built again.
    config.get("OPTIONS", {}).pop("pool", None)
    pool = postgres_pools().pop(alias, None)
    if pool is not None:
        try:
            pool.close(timeout=2)
        except Exception:
            logger.warning("closing pool of %s failed", alias, exc_info=True)
    # The calling thread's own wrapper can be closed and dropped right away.
    try:
        wrapper = getattr(_wrappers(), alias)
    except AttributeError:
        return
    try:
        wrapper.close()
    except Exception:
        logger.debug("closing wrapper %s failed", alias, exc_info=True)
    delattr(_wrappers(), alias)
    _touched().discard(alias)


def _drop_if_hung_up(alias: str) -> None:
    """Close a kept connection the server has hung up on, before it is used.

    An idle connection has nothing to read; if its socket is readable, the
    server closed it (a restart, an idle timeout, PgBouncer going away), and
    reusing it would fail the request. A poll costs microseconds, a query
    (Django's CONN_HEALTH_CHECKS) a round trip.
    """
    wrapper = getattr(_wrappers(), alias, None)
    raw = getattr(wrapper, "connection", None)
    if wrapper is None or raw is None or wrapper.in_atomic_block:
        return
    fileno = getattr(raw, "fileno", None)
    if fileno is None:
        return  # SQLite: a file, no server to hang up
    try:
        # poll, not select: select refuses descriptors above 1023, and a
        # process keeping many tenants open has those.
        poller = select.poll()
        poller.register(fileno(), select.POLLIN)
        readable = bool(poller.poll(0))
    except Exception:
        readable = True  # closed already: nothing to reuse
    if readable:
        wrapper.close()


def _drop_stale_wrapper(alias: str) -> None:
    """A wrapper built from an older registration must not be reused, nor one a
    previous context left inside a transaction (its work is rolled back)."""
    try:
        wrapper = getattr(_wrappers(), alias)
    except AttributeError:
        return
    if wrapper.settings_dict is not connections.settings[alias] or (
        wrapper.in_atomic_block
    ):
        try:
            wrapper.close()
        finally:
            delattr(_wrappers(), alias)


def _sweep_interval() -> float:
    return max(0.2, min(settings.TENANT_CONNECTION_IDLE_SECONDS / 4, 60.0))


def _sweep_forever() -> None:
    last = time.monotonic()
    # Wake every second so that a changed timeout takes effect promptly.
    while not _sweeper_stop.wait(min(1.0, _sweep_interval())):
        if time.monotonic() - last < _sweep_interval():
            continue
        last = time.monotonic()
        try:
            sweep_idle()
        except Exception:
            logger.exception("idle tenant connection sweep failed")


def _ensure_sweeper() -> None:
    global _sweeper
    if _sweeper is not None and _sweeper.is_alive():
        return
    with _lock:
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper_stop.clear()
            _sweeper = threading.Thread(
                target=_sweep_forever, name="tenant-idle-sweeper", daemon=True
            )
            _sweeper.start()


def _after_fork_in_child() -> None:
    """A forked child must not use its parent's connections, threads or aliases."""
    global _lock, _sweeper, _reserved
    pools = postgres_pools()
    _lock = threading.RLock()
    _sweeper = None
    for alias, st in _state.items():
        pools.pop(alias, None)  # parent's; never close here
        for wrapper in st.holders.values():
            # Closing would end the parent's session on the shared socket.
            wrapper.connection = None
        if hasattr(_wrappers(), alias):
            getattr(_wrappers(), alias).connection = None
            delattr(_wrappers(), alias)
    if _state:
        _publish({k: v for k, v in connections.settings.items() if k not in _state})
    _state.clear()
    _reserved = 0
    _local.__dict__.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
