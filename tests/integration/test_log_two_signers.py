"""Two processes signing one log: one that signs a larger tree while the other is signing a
smaller one must not fail the other (its events are in the larger checkpoint), and no size ever
gets two roots. Run against every backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from api.bootstrap import Services, bootstrap
from ledger.clock import SteppingClock, random_ids
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from tests.integration.ledger_scenario import UCLG, pledge_body, register_basics


class InterruptingClock:
    """A clock that, once armed, runs ``interruption`` the next time it is read: another process
    acting between two steps of this one."""

    def __init__(self, clock: SteppingClock) -> None:
        self._clock = clock
        self._interruption: Callable[[], object] | None = None

    def arm(self, interruption: Callable[[], object]) -> None:
        self._interruption = interruption

    def now(self) -> datetime:
        if self._interruption is not None:
            interruption, self._interruption = self._interruption, None
            interruption()
        return self._clock.now()


@pytest.fixture
def interrupting_clock(clock: SteppingClock) -> InterruptingClock:
    return InterruptingClock(clock)


@pytest.fixture
def this_process(
    settings: LedgerSettings, interrupting_clock: InterruptingClock
) -> Iterator[Services]:
    with bootstrap(
        settings, clock=interrupting_clock, ids=random_ids, write_mode=WriteMode.APPEND_ONLY
    ) as wired:
        yield wired


@pytest.fixture
def other_process(settings: LedgerSettings, clock: SteppingClock) -> Iterator[Services]:
    with bootstrap(
        settings, clock=clock, ids=random_ids, write_mode=WriteMode.APPEND_ONLY
    ) as wired:
        yield wired


def test_a_larger_checkpoint_signed_meanwhile_by_another_process_answers_this_one(
    this_process: Services, other_process: Services, interrupting_clock: InterruptingClock
) -> None:
    register_basics(this_process)
    size = this_process.log.integrate()

    def other_signs_a_larger_tree() -> None:
        other_process.ledger.write("submit_pledge", UCLG, pledge_body())
        other_process.log.sign(wait=False, force=True)

    # Armed now, it fires while this process stores its checkpoint of ``size`` leaves.
    interrupting_clock.arm(other_signs_a_larger_tree)
    signed = this_process.log.sign(wait=False, force=True)

    assert signed.size == size + 1
    sizes = [checkpoint.size for checkpoint in this_process.log.checkpoints()]
    assert sizes == [size + 1]
