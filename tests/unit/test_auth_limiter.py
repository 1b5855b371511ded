"""Slowing down repeated authentication failures from one address, on an injected clock."""

from __future__ import annotations

from api.auth import AuthFailureLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: FakeClock, **options: int) -> AuthFailureLimiter:
    return AuthFailureLimiter(burst=3, refill_seconds=10, clock=clock, **options)


def test_an_address_that_never_failed_may_try() -> None:
    assert limiter(FakeClock()).retry_after("10.0.0.1") is None


def test_an_address_may_fail_up_to_the_burst_before_it_must_wait() -> None:
    limits = limiter(FakeClock())
    for _ in range(2):
        limits.failed("10.0.0.1")
    assert limits.retry_after("10.0.0.1") is None
    limits.failed("10.0.0.1")
    assert limits.retry_after("10.0.0.1") == 10


def test_an_address_over_the_limit_may_try_again_once_a_token_refilled() -> None:
    clock = FakeClock()
    limits = limiter(clock)
    for _ in range(3):
        limits.failed("10.0.0.1")
    clock.now += 4
    assert limits.retry_after("10.0.0.1") == 6
    clock.now += 6
    assert limits.retry_after("10.0.0.1") is None


def test_failures_of_one_address_do_not_slow_another() -> None:
    limits = limiter(FakeClock())
    for _ in range(3):
        limits.failed("10.0.0.1")
    assert limits.retry_after("10.0.0.2") is None


def test_the_limiter_remembers_at_most_max_clients_addresses() -> None:
    limits = limiter(FakeClock(), max_clients=100)
    for n in range(1000):
        limits.failed(f"10.0.{n // 256}.{n % 256}")
    assert limits.remembered() == 100
