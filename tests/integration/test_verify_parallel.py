"""Verifying on several cores, chunk by chunk, finds exactly what one pass in one process finds.

The bundle's entries are cut into chunks of a few lines and handed to two worker processes;
whatever is tampered with (an entry, its order, an event id, a tile, the roll-ups), the finding
must be the one the single-process, single-chunk verification names.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import bootstrap
from api.demo import demo_clock, load_demo
from ledger.bundle import export_bundle
from ledger.canonical import canonical_bytes
from ledger.clock import SeededIds
from ledger.entry_scan import (
    EntryScanner,
    Extract,
    ScanFailed,
    chunk_bounds,
    duplicate_prefixes,
    start_method,
)
from ledger.verify import Finding, verify_bundle
from ledger.write_path import WriteMode
from projections.reports import rollups_document
from projections.rollups_replay import RollupsReplay
from tests.conftest import sqlite_settings

ONE_CHUNK = 1 << 40


@dataclass(frozen=True)
class Bundle:
    directory: Path
    lines: tuple[bytes, ...]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    home = tmp_path_factory.mktemp("parallel-bundle")
    settings_ = sqlite_settings(home)
    with bootstrap(
        settings_, clock=demo_clock(), ids=SeededIds(5), write_mode=WriteMode.BULK_LOAD
    ) as services:
        load_demo(services, pledges=30, seed=5, today=date(2025, 6, 1), batch_size=50)
        services.views.catch_up()

        def rollups(size: int) -> bytes:
            document = rollups_document(
                services.engine, services.store, tree_size=size, freshness_months=12
            )
            return canonical_bytes(document)

        export_bundle(services.log, home / "bundle", vkey=services.log.signer.vkey, rollups=rollups)
    directory = home / "bundle"
    return Bundle(directory, tuple((directory / "entries.jsonl").read_bytes().splitlines()))


def verify(bundle: Path, *, workers: int, chunk_bytes: int) -> Finding | None:
    return verify_bundle(
        bundle, replay=RollupsReplay(), workers=workers, chunk_bytes=chunk_bytes
    ).failure


def test_the_demo_verifies_on_two_workers_in_small_chunks(demo: Bundle) -> None:
    result = verify_bundle(demo.directory, replay=RollupsReplay(), workers=2, chunk_bytes=4096)

    assert result.ok, result.failure
    assert result.entries == len(demo.lines)
    assert result.rollups_checked
    assert result.authority_checked


def _swap_digit(line: bytes) -> bytes:
    """The same canonical envelope with one digit of its recorded_at changed."""
    at = line.index(b'"recorded_at":"') + len(b'"recorded_at":"') + 18
    digit = (int(line[at : at + 1]) + 1) % 10
    return line[:at] + str(digit).encode() + line[at + 1 :]


def _with_event_id(line: bytes, event_id: str) -> bytes:
    old = orjson.loads(line)["event_id"]
    return line.replace(old.encode(), event_id.encode())


def tamper(bundle: Path, lines: tuple[bytes, ...], how: str, at: int, other: int) -> None:
    changed = list(lines)
    entries = bundle / "entries.jsonl"
    if how == "edit":
        changed[at] = _swap_digit(changed[at])
    elif how == "delete":
        del changed[at]
    elif how == "swap":
        changed[at], changed[other] = changed[other], changed[at]
    elif how == "not canonical":
        changed[at] = changed[at].replace(b'{"event_id"', b'{ "event_id"', 1)
    elif how == "same event id":
        first, second = sorted((at, other))
        changed[second] = _with_event_id(changed[second], orjson.loads(changed[first])["event_id"])
    elif how == "cut":
        entries.write_bytes(b"".join(line + b"\n" for line in changed)[:-1])
        return
    elif how == "tile":
        tile = min(p for p in (bundle / "tile" / "0").rglob("*") if p.is_file())
        data = bytearray(tile.read_bytes())
        data[32 * (at % (len(data) // 32))] ^= 1
        tile.write_bytes(bytes(data))
        return
    elif how == "rollups":
        document = orjson.loads((bundle / "rollups.json").read_bytes())
        document["rollups"]["all"][0]["pledges"] += 1
        (bundle / "rollups.json").write_bytes(orjson.dumps(document))
        return
    entries.write_bytes(b"".join(line + b"\n" for line in changed))


TAMPERINGS = ["edit", "delete", "swap", "not canonical", "same event id", "cut", "tile", "rollups"]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    how=st.sampled_from(TAMPERINGS),
    at=st.integers(min_value=0, max_value=10**6),
    other=st.integers(min_value=0, max_value=10**6),
    chunk_bytes=st.sampled_from([512, 3000, 20_000]),
)
def test_two_workers_in_chunks_name_what_one_pass_names(
    demo: Bundle, tmp_path: Path, how: str, at: int, other: int, chunk_bytes: int
) -> None:
    bundle = Path(tempfile.mkdtemp(dir=tmp_path)) / "bundle"
    shutil.copytree(demo.directory, bundle)
    count = len(demo.lines)
    at, other = at % count, other % count
    if how in ("swap", "same event id") and at == other:
        other = (at + 1) % count
    tamper(bundle, demo.lines, how, at, other)

    alone = verify(bundle, workers=1, chunk_bytes=ONE_CHUNK)
    shared = verify(bundle, workers=2, chunk_bytes=chunk_bytes)

    assert alone is not None, f"{how} at {at} verified"
    assert shared == alone
    shutil.rmtree(bundle.parent)


def test_an_event_id_repeated_chunks_apart_is_named_at_its_second_entry(
    demo: Bundle, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo.directory, bundle)
    first, second = 3, len(demo.lines) - 5
    tamper(bundle, demo.lines, "same event id", first, second)
    event_id = orjson.loads(demo.lines[first])["event_id"]

    finding = verify(bundle, workers=2, chunk_bytes=1024)

    assert finding is not None
    # The signed root names the changed entry first: that is where the bundle leaves the log.
    assert finding.where == f"entry {second} (event {event_id})"


def test_chunks_end_after_a_newline_and_cover_the_file(demo: Bundle) -> None:
    descriptor = os.open(demo.directory / "entries.jsonl", os.O_RDONLY)
    try:
        size = os.fstat(descriptor).st_size
        bounds = chunk_bounds(descriptor, size, 1000)
        data = (demo.directory / "entries.jsonl").read_bytes()
    finally:
        os.close(descriptor)

    assert bounds[0][0] == 0
    assert bounds[-1][1] == size
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(bounds))
    assert all(data[end - 1 : end] == b"\n" for _, end in bounds)
    assert len(bounds) > 10


def test_duplicate_prefixes_groups_every_repeated_prefix_in_entry_order() -> None:
    values = array("Q", [5, 1 << 60, 7, 5, (1 << 60) + 1, 1 << 60, 5, 9])

    groups = duplicate_prefixes(values.tobytes())

    assert sorted(groups) == [[0, 3, 6], [1, 5]]


def test_no_prefixes_no_duplicates() -> None:
    assert duplicate_prefixes(b"") == []


# --- the worker processes themselves ----------------------------------------------------------


def _die(*_: object) -> None:
    """A roll-ups extract that kills the worker running it, as the kernel's OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)


def _fail(*_: object) -> None:
    raise RuntimeError("the disk went away")


def _scans(
    demo: Bundle, extract: Extract | None, *, workers: int
) -> tuple[str | None, list[object]]:
    descriptor = os.open(demo.directory / "entries.jsonl", os.O_RDONLY)
    try:
        with EntryScanner(descriptor, extract, workers=workers, chunk_bytes=2048) as scanner:
            scans = list(scanner.chunks())
            prefixes = b"".join(c.id_prefixes for c in scans)
            seen: list[object] = [(c.lines, c.hashes, c.records, c.failure) for c in scans]
            return scanner.method, [*seen, scanner.duplicates(prefixes)]
    finally:
        os.close(descriptor)


def test_a_worker_killed_mid_scan_is_an_error_not_a_wait(demo: Bundle) -> None:
    started = time.monotonic()

    with pytest.raises(ScanFailed, match="killed by signal 9"):
        _scans(demo, _die, workers=2)

    assert time.monotonic() - started < 30


def test_a_worker_that_raises_is_an_error_in_the_main_process(demo: Bundle) -> None:
    with pytest.raises(ScanFailed, match="RuntimeError: the disk went away"):
        _scans(demo, _fail, workers=2)


def test_while_other_threads_run_workers_start_from_a_fork_server(demo: Bundle) -> None:
    alone = _scans(demo, RollupsReplay().extract, workers=1)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert start_method() == "forkserver"
        method, scans = _scans(demo, RollupsReplay().extract, workers=2)
    finally:
        release.set()
        other.join()

    assert alone[0] is None
    assert method == "forkserver"
    assert scans == alone[1]
