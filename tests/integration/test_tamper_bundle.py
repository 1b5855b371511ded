"""Tampering with an exported audit bundle: every change fails verification, and is named.

One small demo (40 pledges, 274 entries, five checkpoints over five years, three hash tiles) is
exported once; each test tampers with its own copy and checks that ``verify_bundle`` fails with a
finding that names exactly the entry (leaf index and event id), checkpoint file or tile.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pytest

from api.bootstrap import bootstrap
from api.demo import demo_clock, load_demo
from ledger.bundle import export_bundle
from ledger.checkpoint import Checkpoint, load_or_create_signer, sign_checkpoint
from ledger.clock import SeededIds
from ledger.merkle import root_from_leaf_hashes
from ledger.note import Signer, generate_signer
from ledger.verify import ENTRY_LIMIT, NOTE_LIMIT, Finding, VerificationResult, verify_bundle
from ledger.write_path import WriteMode
from tests.conftest import sqlite_settings

_RECORDED_AT = re.compile(rb'"recorded_at":"[0-9T:.-]+([0-9])Z"')


@dataclass(frozen=True)
class DemoBundle:
    directory: Path
    origin: str
    signer: Signer
    lines: tuple[bytes, ...]
    checkpoint_sizes: tuple[int, ...]
    tiles: tuple[str, ...]

    @property
    def vkey(self) -> str:
        return self.signer.vkey


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> DemoBundle:
    home = tmp_path_factory.mktemp("demo-bundle")
    settings = sqlite_settings(home)
    with bootstrap(
        settings, clock=demo_clock(), ids=SeededIds(3), write_mode=WriteMode.BULK_LOAD
    ) as services:
        # A checkpoint every 60 commands: the bundle carries a history, not just one root.
        load_demo(services, pledges=40, seed=3, today=date(2025, 6, 1), batch_size=60)
        export_bundle(services.log, home / "bundle", vkey=services.log.signer.vkey)
    directory = home / "bundle"
    lines = tuple((directory / "entries.jsonl").read_bytes().splitlines())
    sizes = tuple(sorted(int(p.name) for p in (directory / "checkpoints").iterdir()))
    tiles = tuple(
        sorted(
            p.relative_to(directory).as_posix()
            for p in (directory / "tile").rglob("*")
            if p.is_file()
        )
    )
    # The shape the tests below rely on: several checkpoints, a full tile and partial tiles.
    assert len(lines) == 336
    assert len(sizes) >= 3
    assert sizes[-1] == len(lines)
    assert tiles == ("tile/0/000", f"tile/0/001.p/{len(lines) - 256}", "tile/1/000.p/1")
    signer = load_or_create_signer(settings.key_file, settings.log_origin)
    return DemoBundle(directory, settings.log_origin, signer, lines, sizes, tiles)


@pytest.fixture
def bundle(demo_bundle: DemoBundle, tmp_path: Path) -> Path:
    """A private copy of the demo bundle, to tamper with."""
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle.directory, copy)
    return copy


def write_entries(bundle: Path, lines: list[bytes] | tuple[bytes, ...]) -> None:
    (bundle / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def event_id(line: bytes) -> str:
    value = orjson.loads(line)["event_id"]
    assert isinstance(value, str)
    return value


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def failure_of(bundle: Path, *, trusted_vkey: str | None = None) -> Finding:
    result = verify_bundle(bundle, trusted_vkey=trusted_vkey)
    assert result.failure is not None, "the tampered bundle verified"
    return result.failure


def with_changed_recorded_at(line: bytes) -> bytes:
    """The same envelope, still canonical JSON, one digit of ``recorded_at`` changed."""
    match = _RECORDED_AT.search(line)
    assert match is not None
    digit = match.start(1)
    changed = str((int(line[digit : digit + 1]) + 1) % 10).encode()
    return line[:digit] + changed + line[digit + 1 :]


def forged_envelope(template: bytes, number: int) -> bytes:
    """A well-formed canonical envelope that the log never held: a new stream, a new id."""
    body = orjson.loads(template)
    assert body["stream_version"] == 1
    old_id, old_stream = body["event_id"], body["stream_id"]
    new_id = f"00000000-0000-4000-8000-{number:012d}"
    new_stream = f"{old_stream.split(':', 1)[0]}:forged-{number}"
    forged = template.replace(old_id.encode(), new_id.encode()).replace(
        f'"{old_stream}"'.encode(), f'"{new_stream}"'.encode()
    )
    assert orjson.loads(forged)["event_id"] == new_id
    return forged


def last_of_its_stream(lines: tuple[bytes, ...], start: int) -> int:
    """The first index from ``start`` whose stream has no later event (not the final entry)."""
    streams = [orjson.loads(line)["stream_id"] for line in lines]
    for index in range(start, len(lines) - 1):
        if streams[index] not in streams[index + 1 :]:
            return index
    raise AssertionError("no such entry")


def continuing_stream(lines: tuple[bytes, ...], start: int) -> int:
    """The first index from ``start`` whose stream goes on, but not in the very next entry."""
    streams = [orjson.loads(line)["stream_id"] for line in lines]
    for index in range(start, len(lines) - 2):
        if streams[index] in streams[index + 2 :] and streams[index + 1] != streams[index]:
            return index
    raise AssertionError("no such entry")


# --- the untampered bundle --------------------------------------------------------------------


def test_untampered_bundle_verifies_with_its_own_key(bundle: Path, demo_bundle: DemoBundle) -> None:
    result = verify_bundle(bundle)

    assert result.failure is None
    assert result.entries == result.tree_size == len(demo_bundle.lines)
    assert result.checkpoints == list(demo_bundle.checkpoint_sizes)
    assert result.tiles == len(demo_bundle.tiles)
    assert result.key == demo_bundle.vkey
    assert not result.key_trusted


def test_untampered_bundle_verifies_with_the_trusted_key(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    result: VerificationResult = verify_bundle(bundle, trusted_vkey=demo_bundle.vkey)

    assert result.ok
    assert result.key_trusted


# --- entries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 100, 255, 256, 267])
def test_changed_digit_in_an_entry_is_named_by_leaf_index_and_event_id(
    bundle: Path, demo_bundle: DemoBundle, index: int
) -> None:
    lines = list(demo_bundle.lines)
    lines[index] = with_changed_recorded_at(lines[index])
    write_entries(bundle, lines)

    finding = failure_of(bundle, trusted_vkey=demo_bundle.vkey)

    assert finding.where == f"entry {index} (event {event_id(demo_bundle.lines[index])})"
    assert "differs from the one the signed log holds" in finding.problem


def test_non_canonical_space_in_an_entry_is_named_by_leaf_index(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    index = 120
    lines = list(demo_bundle.lines)
    lines[index] = lines[index].replace(b'"event_id":', b'"event_id": ', 1)
    assert orjson.loads(lines[index]) == orjson.loads(demo_bundle.lines[index])
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    assert finding.where == f"entry {index}"
    assert "not a canonical envelope" in finding.problem


def test_deleted_entry_is_named_at_its_position(bundle: Path, demo_bundle: DemoBundle) -> None:
    index = last_of_its_stream(demo_bundle.lines, 150)
    lines = list(demo_bundle.lines)
    del lines[index]
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    # The entry now at that position is the one that followed the deleted entry.
    assert finding.where == f"entry {index} (event {event_id(demo_bundle.lines[index + 1])})"


def test_deleted_entry_is_explained_by_where_the_signed_log_holds_the_next_one(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    index = last_of_its_stream(demo_bundle.lines, 150)
    lines = list(demo_bundle.lines)
    del lines[index]
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    assert f"holds this entry at leaf {index + 1}" in finding.problem
    assert f"the 1 entry the log signed from leaf {index} on is missing (deleted)" in (
        finding.problem
    )


def test_deleted_entry_of_a_continuing_stream_is_named_at_its_position(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    index = continuing_stream(demo_bundle.lines, 50)
    lines = list(demo_bundle.lines)
    del lines[index]
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    assert finding.where == f"entry {index} (event {event_id(demo_bundle.lines[index + 1])})"


@pytest.mark.parametrize("same_stream", [False, True], ids=["two-streams", "one-stream"])
def test_swapped_entries_are_named_at_the_first_moved_position(
    bundle: Path, demo_bundle: DemoBundle, same_stream: bool
) -> None:
    streams = [orjson.loads(line)["stream_id"] for line in demo_bundle.lines]
    first = continuing_stream(demo_bundle.lines, 70)
    second = next(
        n for n in range(first + 1, len(streams)) if (streams[n] == streams[first]) == same_stream
    )
    lines = list(demo_bundle.lines)
    lines[first], lines[second] = lines[second], lines[first]
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    assert finding.where == f"entry {first} (event {event_id(demo_bundle.lines[second])})"
    assert "deleted)" not in finding.problem


def test_truncated_log_names_the_first_missing_entry(bundle: Path, demo_bundle: DemoBundle) -> None:
    kept = len(demo_bundle.lines) - 10
    write_entries(bundle, demo_bundle.lines[:kept])

    finding = failure_of(bundle)

    assert finding.where == f"entry {kept}"
    assert "missing" in finding.problem
    assert "truncated" in finding.problem


def test_entries_file_cut_inside_a_line_names_that_entry(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    data = (bundle / "entries.jsonl").read_bytes()
    (bundle / "entries.jsonl").write_bytes(data[:-40])

    finding = failure_of(bundle)

    assert finding.where == f"entry {len(demo_bundle.lines) - 1}"
    assert "cut" in finding.problem


def test_duplicated_entry_is_named_where_it_repeats(bundle: Path, demo_bundle: DemoBundle) -> None:
    index = 90
    lines = list(demo_bundle.lines)
    lines.insert(index + 1, lines[index])
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    assert finding.where == f"entry {index + 1} (event {event_id(demo_bundle.lines[index])})"


def test_entry_added_after_the_signed_tree_is_named(bundle: Path, demo_bundle: DemoBundle) -> None:
    size = len(demo_bundle.lines)
    write_entries(bundle, [*demo_bundle.lines, forged_envelope(demo_bundle.lines[0], 1)])

    finding = failure_of(bundle)

    assert finding.where == f"entry {size}"
    assert f"more than the {size}" in finding.problem


def test_entry_inserted_inside_the_signed_tree_is_named(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    index = 200
    forged = forged_envelope(demo_bundle.lines[0], 2)
    lines = list(demo_bundle.lines)
    lines.insert(index, forged)
    write_entries(bundle, lines)

    finding = failure_of(bundle)

    assert finding.where == f"entry {index} (event {event_id(forged)})"


# --- checkpoints and key ----------------------------------------------------------------------


def alternative_root(demo_bundle: DemoBundle, size: int) -> bytes:
    """The root of a history that differs from the real one in its first entry."""
    leaves = [leaf_hash(line) for line in demo_bundle.lines[:size]]
    leaves[0] = leaf_hash(with_changed_recorded_at(demo_bundle.lines[0]))
    return root_from_leaf_hashes(leaves)


def forge_checkpoint(demo_bundle: DemoBundle, size: int, root: bytes, signer: Signer) -> bytes:
    return sign_checkpoint(Checkpoint(demo_bundle.origin, size, root), signer)


def test_old_size_re_signed_with_another_root_by_the_log_key_is_named(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    size = demo_bundle.checkpoint_sizes[1]
    forged = forge_checkpoint(
        demo_bundle, size, alternative_root(demo_bundle, size), demo_bundle.signer
    )
    (bundle / "checkpoints" / str(size)).write_bytes(forged)

    finding = failure_of(bundle, trusted_vkey=demo_bundle.vkey)

    assert finding.where == f"checkpoints/{size}"
    assert "not consistent with the log" in finding.problem


def test_extra_checkpoint_of_another_history_by_the_log_key_is_named(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    size = 100
    assert size not in demo_bundle.checkpoint_sizes
    forged = forge_checkpoint(
        demo_bundle, size, alternative_root(demo_bundle, size), demo_bundle.signer
    )
    (bundle / "checkpoints" / str(size)).write_bytes(forged)

    finding = failure_of(bundle, trusted_vkey=demo_bundle.vkey)

    assert finding.where == f"checkpoints/{size}"


def test_latest_checkpoint_re_signed_with_another_root_is_named_as_a_second_history(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    size = len(demo_bundle.lines)
    forged = forge_checkpoint(
        demo_bundle, size, alternative_root(demo_bundle, size), demo_bundle.signer
    )
    (bundle / "checkpoint").write_bytes(forged)

    finding = failure_of(bundle, trusted_vkey=demo_bundle.vkey)

    assert finding.where == f"checkpoints/{size}"
    assert "two histories" in finding.problem


@pytest.mark.parametrize("latest", [True, False], ids=["latest", "older"])
def test_checkpoint_signed_by_another_key_is_named(
    bundle: Path, demo_bundle: DemoBundle, latest: bool
) -> None:
    size = len(demo_bundle.lines) if latest else demo_bundle.checkpoint_sizes[1]
    name = "checkpoint" if latest else f"checkpoints/{size}"
    real_root = root_from_leaf_hashes([leaf_hash(line) for line in demo_bundle.lines[:size]])
    impostor = generate_signer(demo_bundle.origin)
    (bundle / name).write_bytes(forge_checkpoint(demo_bundle, size, real_root, impostor))

    finding = failure_of(bundle, trusted_vkey=demo_bundle.vkey)

    assert finding.where == name
    assert "no signature by a trusted key" in finding.problem


def test_key_file_replaced_while_the_real_key_is_trusted_is_named(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    (bundle / "key.vkey").write_text(generate_signer(demo_bundle.origin).vkey + "\n")

    finding = failure_of(bundle, trusted_vkey=demo_bundle.vkey)

    assert finding.where == "key.vkey"
    assert "not the trusted key" in finding.problem


def test_key_file_replaced_without_a_trusted_key_fails_on_the_checkpoint_signature(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    (bundle / "key.vkey").write_text(generate_signer(demo_bundle.origin).vkey + "\n")

    finding = failure_of(bundle)

    assert finding.where == "checkpoint"


# --- tiles ------------------------------------------------------------------------------------


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize("index", [0, 1, 2])
def test_changed_tile_is_named(bundle: Path, demo_bundle: DemoBundle, index: int) -> None:
    tile = demo_bundle.tiles[index]
    (bundle / tile).write_bytes(flip_last_byte((bundle / tile).read_bytes()))

    finding = failure_of(bundle)

    assert finding.where == tile
    assert "does not match" in finding.problem


@pytest.mark.parametrize("index", [0, 1, 2])
def test_missing_tile_is_named(bundle: Path, demo_bundle: DemoBundle, index: int) -> None:
    tile = demo_bundle.tiles[index]
    (bundle / tile).unlink()

    finding = failure_of(bundle)

    assert finding.where == tile
    assert finding.problem == "missing"


def test_changed_leaf_tile_names_the_leaf_and_its_event(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    tile = bytearray((bundle / "tile/0/000").read_bytes())
    tile[41 * 32] ^= 0x01
    (bundle / "tile/0/000").write_bytes(bytes(tile))

    finding = failure_of(bundle)

    assert finding.where == "tile/0/000"
    assert f"leaf 41 (event {event_id(demo_bundle.lines[41])})" in finding.problem


def test_tile_of_another_tree_is_named(bundle: Path, demo_bundle: DemoBundle) -> None:
    (bundle / "tile/0/002").write_bytes((bundle / "tile/0/000").read_bytes())

    finding = failure_of(bundle)

    assert finding.where == "tile/0/002"
    assert "not a tile of this tree" in finding.problem


def test_changed_entry_with_its_tile_rewritten_to_match_is_still_caught(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    # A careful forger also recomputes the level-0 tile: the signed root still catches it.
    index = 10
    lines = list(demo_bundle.lines)
    lines[index] = with_changed_recorded_at(lines[index])
    write_entries(bundle, lines)
    tile = bytearray((bundle / "tile/0/000").read_bytes())
    tile[index * 32 : (index + 1) * 32] = leaf_hash(lines[index])
    (bundle / "tile/0/000").write_bytes(bytes(tile))

    finding = failure_of(bundle)

    assert finding.where == "checkpoint"
    assert "do not give the signed root" in finding.problem


# --- files that are not the bundle's own regular files ----------------------------------------


def replace_with_link(path: Path, target: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target)


@contextmanager
def memory_capped(extra: int = 512 * 1024 * 1024) -> Iterator[None]:
    """Cap this process's address space at its current size plus ``extra`` bytes meanwhile,
    so that a verifier that read ``/dev/zero`` fails with MemoryError instead of exhausting
    the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    cap = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def fifo_with_a_writer(path: Path) -> Iterator[None]:
    """Replace ``path`` by a FIFO whose writer sends a few bytes once a reader opens it.

    A verifier that opened the FIFO to read it would block until the writer came, then read
    its bytes; one that refuses it never waits. Afterwards the test opens the reading end
    itself, so the writer always finishes.
    """
    path.unlink()
    os.mkfifo(path)

    def write() -> None:
        with suppress(BrokenPipeError), open(path, "wb") as writer:
            writer.write(b"not a checkpoint\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        writer.join()
        os.close(reader)


@pytest.mark.parametrize("name", ["checkpoint", "key.vkey", "entries.jsonl"])
def test_file_linked_to_dev_zero_is_refused_unread(bundle: Path, name: str) -> None:
    replace_with_link(bundle / name, Path("/dev/zero"))

    with memory_capped():
        finding = failure_of(bundle)

    assert finding.where == name
    assert "symbolic link" in finding.problem


def test_file_linked_to_a_valid_copy_outside_the_bundle_is_refused(
    bundle: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere-entries.jsonl"
    shutil.copyfile(bundle / "entries.jsonl", outside)
    replace_with_link(bundle / "entries.jsonl", outside)

    finding = failure_of(bundle)

    assert finding.where == "entries.jsonl"
    assert "symbolic link" in finding.problem


@pytest.mark.parametrize("name", ["checkpoint", "entries.jsonl"])
def test_fifo_in_place_of_a_file_is_refused_without_waiting(bundle: Path, name: str) -> None:
    with fifo_with_a_writer(bundle / name):
        finding = failure_of(bundle)

    assert finding.where == name
    assert finding.problem == "is not a regular file but a FIFO"


def test_checkpoints_folder_linked_elsewhere_is_refused(bundle: Path, tmp_path: Path) -> None:
    # The linked folder holds the real checkpoints: only the link itself is wrong.
    outside = tmp_path / "elsewhere-checkpoints"
    shutil.copytree(bundle / "checkpoints", outside)
    replace_with_link(bundle / "checkpoints", outside)

    finding = failure_of(bundle)

    assert finding.where == "checkpoints"
    assert "symbolic link" in finding.problem


def test_checkpoint_file_linked_inside_the_checkpoints_folder_is_refused(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    size = demo_bundle.checkpoint_sizes[0]
    replace_with_link(bundle / "checkpoints" / str(size), Path("/dev/zero"))

    with memory_capped():
        finding = failure_of(bundle)

    assert finding.where == f"checkpoints/{size}"
    assert "symbolic link" in finding.problem


def test_tile_folder_linked_elsewhere_is_refused(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere-tiles"
    shutil.copytree(bundle / "tile", outside)
    replace_with_link(bundle / "tile", outside)

    finding = failure_of(bundle)

    assert finding.where == "tile"
    assert "symbolic link" in finding.problem


def test_tile_linked_to_dev_zero_is_refused(bundle: Path, demo_bundle: DemoBundle) -> None:
    tile = demo_bundle.tiles[0]
    replace_with_link(bundle / tile, Path("/dev/zero"))

    with memory_capped():
        finding = failure_of(bundle)

    assert finding.where == tile
    assert "symbolic link" in finding.problem


def test_checkpoint_larger_than_a_note_can_be_is_refused(bundle: Path) -> None:
    with open(bundle / "checkpoint", "ab") as handle:
        handle.truncate(NOTE_LIMIT + 1)

    finding = failure_of(bundle)

    assert finding.where == "checkpoint"
    assert f"larger than the {NOTE_LIMIT:,}-byte limit" in finding.problem


def test_entry_line_longer_than_the_limit_is_refused_at_its_index(
    bundle: Path, demo_bundle: DemoBundle
) -> None:
    index = 5
    with open(bundle / "entries.jsonl", "wb") as handle:
        handle.writelines(line + b"\n" for line in demo_bundle.lines[:index])
        chunk = b"x" * (1 << 20)
        for _ in range(ENTRY_LIMIT // len(chunk) + 1):
            handle.write(chunk)
        handle.write(b"\n")

    finding = failure_of(bundle)

    assert finding.where == f"entry {index}"
    assert f"longer than the {ENTRY_LIMIT:,}-byte limit" in finding.problem


def test_folder_in_place_of_the_entries_is_refused(bundle: Path) -> None:
    (bundle / "entries.jsonl").unlink()
    (bundle / "entries.jsonl").mkdir()

    finding = failure_of(bundle)

    assert finding.where == "entries.jsonl"
    assert finding.problem == "is not a regular file but a folder"


def test_fifo_among_the_tiles_is_refused(bundle: Path) -> None:
    os.mkfifo(bundle / "tile" / "0" / "002")

    finding = failure_of(bundle)

    assert finding.where == "tile/0/002"
    assert finding.problem == "is not a regular file but a FIFO"
