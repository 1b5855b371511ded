"""The store-wide lock (``ledger.database.store_lock``) that reports and rebuilds take: one
holder per store and name, a waiter gets it once it is free, a lock of another name is apart."""

from __future__ import annotations

import threading
import time

from api.bootstrap import Services
from ledger.database import store_lock


def test_one_holder_at_a_time_and_a_waiter_gets_it_when_it_is_let_go(services: Services) -> None:
    engine, settings = services.engine, services.settings
    released = threading.Event()

    def hold_then_let_go(held: threading.Event) -> None:
        with store_lock(engine, settings, "reports") as got:
            assert got
            held.set()
            time.sleep(0.3)
        released.set()

    held = threading.Event()
    holder = threading.Thread(target=hold_then_let_go, args=(held,))
    holder.start()
    assert held.wait(10)
    with store_lock(engine, settings, "reports") as once:
        assert once is False  # one try, while it is held
    with store_lock(engine, settings, "rebuild") as other:
        assert other is True  # another name is another lock
    started = time.monotonic()
    with store_lock(engine, settings, "reports", timeout=10) as waited:
        assert waited is True
        assert released.is_set()
    assert time.monotonic() - started < 10
    holder.join(10)


def test_a_waiter_gives_up_after_its_timeout(services: Services) -> None:
    engine, settings = services.engine, services.settings
    with store_lock(engine, settings, "reports") as held:
        assert held
        done: list[tuple[bool, float]] = []

        def wait() -> None:
            started = time.monotonic()
            with store_lock(engine, settings, "reports", timeout=0.3) as got:
                done.append((got, time.monotonic() - started))

        waiter = threading.Thread(target=wait)
        waiter.start()
        waiter.join(10)
    ((got, seconds),) = done
    assert got is False
    assert 0.3 <= seconds < 5
