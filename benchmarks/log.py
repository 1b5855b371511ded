"""Benchmark of ``pledge-ledger verify`` on audit bundles of demo-sized entries, with the
roll-ups replay, beside the floor measured in the same run.

For each size N it needs a bundle of N entries as the demo writes them:

- the demo's own bundle (``pledge-ledger demo --pledges 17000`` then ``export``: about 101k
  entries) is used as it is when N is its size, and made first unless ``--demo-bundle`` names
  one already exported;
- any other N is the demo's bundle with its pledges replicated: the registry (keys, networks,
  cities, memberships, declarations) once, then the demo's pledge events again and again, each
  copy with new pledge and event ids (every UUID in a line mapped to a new one, so references
  such as errata and matches follow), cut at N entries. Entries keep the demo's sizes and
  mixture of event types; checkpoints every 100,000 entries and at N are signed with a new
  Ed25519 key, the tiles are computed from the entries, and ``rollups.json`` is the replay's
  own document (the property tests hold it equal to the read models' fold).

Then it measures, on the same bundle:

- floor: read each line, SHA-256 it as a leaf and ``orjson.loads`` it, in this process, one
  core: what any verifier pays;
- verify: the whole ``pledge-ledger verify DIR`` process (every check, the roll-ups replay, all
  its worker processes), wall time, CPU time, and peak memory: the largest resident set of one
  process (``ru_maxrss``) and the largest sum over the process tree of proportional set sizes
  (PSS, sampled every 50 ms; shared pages counted once), which is the memory the command holds;
- the ratio verify / floor in entries per second (the target is >= 0.5, using every core).

The machine's load average is printed beside the figures: other jobs on the machine slow both.

Usage::

    .venv/bin/python -m benchmarks.log [--sizes 101323,1000000] [--demo-bundle DIR]
                                       [--workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from benchmarks.machine import machine
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.envelope import open_envelope
from ledger.merkle import InMemoryTree, leaf_hash
from ledger.note import generate_signer
from ledger.tiles import tiles_for_tree
from projections.rollups_replay import RollupsReplay

DEMO_PLEDGES = 17_000
CHECKPOINT_EVERY = 100_000
ORIGIN = "bench.pledge-ledger/log"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def pledge_ledger() -> str:
    return str(Path(sys.executable).with_name("pledge-ledger"))


def make_demo_bundle(scratch: Path) -> Path:
    """``pledge-ledger demo --pledges 17000`` into a scratch store, exported."""
    url = f"sqlite:///{scratch / 'demo.db'}"
    started = time.perf_counter()
    subprocess.run(
        [pledge_ledger(), "demo", "--pledges", str(DEMO_PLEDGES), "--database-url", url, "--json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    bundle = scratch / "demo-bundle"
    subprocess.run(
        [pledge_ledger(), "export", str(bundle), "--database-url", url, "--json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"demo:       {DEMO_PLEDGES:,} pledges loaded and exported in "
        f"{time.perf_counter() - started:.0f} s"
    )
    return bundle


def _mapped_uuid(match: re.Match[bytes], copy: int) -> bytes:
    digest = hashlib.blake2b(match.group(0) + copy.to_bytes(4, "big"), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}".encode()


def replicated_lines(demo_entries: Path, size: int) -> Iterator[bytes]:
    """``size`` entries: the demo's, then copies of its pledge events with new ids."""
    with open(demo_entries, "rb") as handle:
        lines = handle.read().splitlines()
    pledge_lines = [line for line in lines if b'"stream_id":"pledge:' in line]
    yield from lines[:size]
    written = min(size, len(lines))
    copy = 0
    while written < size:
        copy += 1
        for line in pledge_lines:
            if written == size:
                return
            yield _UUID.sub(functools.partial(_mapped_uuid, copy=copy), line)
            written += 1


def write_bundle(lines: Iterator[bytes], directory: Path) -> int:
    """A complete, signed bundle of ``lines``; answers its size."""
    signer = generate_signer(ORIGIN)
    directory.mkdir(parents=True)
    (directory / "checkpoints").mkdir()
    tree = InMemoryTree()
    replay = RollupsReplay()
    fold = replay.fold(12)
    last_recorded_at: str | None = None
    with open(directory / "entries.jsonl", "wb") as entries:
        for raw in lines:
            entries.write(raw + b"\n")
            tree.append(leaf_hash(raw))
            envelope = open_envelope(raw)
            fold.add(
                replay.extract(
                    envelope.type,
                    envelope.stream_id,
                    envelope.recorded_at,
                    envelope.decode_payload(),
                    envelope.event_id,
                )
            )
            last_recorded_at = envelope.recorded_at
            if tree.size % CHECKPOINT_EVERY == 0:
                note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer)
                (directory / "checkpoints" / str(tree.size)).write_bytes(note)
    size = tree.size
    note = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root()), signer)
    (directory / "checkpoint").write_bytes(note)
    (directory / "checkpoints" / str(size)).write_bytes(note)
    (directory / "key.vkey").write_text(signer.vkey + "\n")
    for path, content in tiles_for_tree(size, tree.get_subtree):
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (directory / "rollups.json").write_bytes(canonical_bytes(fold.document(size, last_recorded_at)))
    return size


def floor_rate(entries: Path) -> tuple[int, float, float]:
    """SHA-256 of every leaf plus orjson.loads of every line, one core: the floor (entries,
    wall seconds, CPU seconds)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    sha256 = hashlib.sha256
    loads = orjson.loads
    count = 0
    with open(entries, "rb") as handle:
        for line in handle:
            raw = line[:-1]
            sha256(b"\x00" + raw).digest()
            loads(raw)
            count += 1
    return count, time.perf_counter() - started, time.process_time() - cpu_started


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """The largest PSS sum over a process and its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.05):
            total = sum(_pss_kib(pid) for pid in _descendants(self.pid))
            self.peak_kib = max(self.peak_kib, total)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak_kib


def run_verify(bundle: Path, workers: int | None) -> tuple[float, float, int, int, str]:
    """The ``verify`` process: wall s, CPU s (with workers), max RSS KiB, peak PSS KiB, output."""
    command = [pledge_ledger(), "verify", str(bundle), "--json"]
    if workers is not None:
        command += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    memory = TreeMemory(process.pid)
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    peak_pss = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise SystemExit(f"verify failed on {bundle}: {output.decode()}")
    return wall, cpu, after.ru_maxrss, peak_pss, output.decode()


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def measure(bundle: Path, workers: int | None) -> None:
    size = count_lines(bundle / "entries.jsonl")
    average = (bundle / "entries.jsonl").stat().st_size / size
    print(f"\n== {size:,} entries, {average:.0f} bytes each on average ==")
    print(f"load:       {load_average()} (before)")
    counted, floor_seconds, floor_cpu = floor_rate(bundle / "entries.jsonl")
    assert counted == size
    wall, cpu, max_rss, peak_pss, output = run_verify(bundle, workers)
    report = orjson.loads(output)
    assert report["ok"], report
    assert report["rollups_checked"], report
    floor, rate = size / floor_seconds, size / wall
    print(
        f"floor:      {floor:,.0f} entries/s ({floor_seconds:.1f} s: read + SHA-256 + "
        "orjson.loads per line, one core)"
    )
    print(
        f"verify:     {rate:,.0f} entries/s ({wall:.1f} s wall, {cpu:.1f} s CPU, every check "
        "and the roll-ups replay)"
    )
    print(
        f"memory:     {peak_pss / 1024:,.0f} MB peak PSS of the process tree, "
        f"{max_rss / 1024:,.0f} MB largest RSS of one process"
    )
    print(
        f"ratio:      verify / floor = {rate / floor:.2f}; CPU verify / floor = "
        f"{cpu / floor_cpu:.1f} (on {os.cpu_count()} cores at best "
        f"{os.cpu_count() or 1} / that = {(os.cpu_count() or 1) * floor_cpu / cpu:.2f})"
    )
    print(f"load:       {load_average()} (after)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="demo,1000000",
        help="comma-separated entry counts; 'demo' is the demo's own bundle",
    )
    parser.add_argument(
        "--demo-bundle",
        type=Path,
        default=None,
        help="an exported bundle of `pledge-ledger demo --pledges 17000`",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="verify's worker processes (default: one per core)",
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the generated bundles under this folder"
    )
    args = parser.parse_args()
    print(f"machine:    {machine()}")
    program = f"-m {__spec__.name}" if __spec__ is not None else sys.argv[0]
    print(f"command:    {Path(sys.executable).name} {program} {' '.join(sys.argv[1:])}")
    print(f"date:       {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pledge-ledger-bench-log-", dir=args.keep))
    try:
        demo = args.demo_bundle or make_demo_bundle(scratch)
        demo_size = count_lines(demo / "entries.jsonl")
        for part in args.sizes.split(","):
            if part.strip() == "demo":
                measure(demo, args.workers)
                continue
            size = int(part.replace("_", ""))
            if size == demo_size:
                measure(demo, args.workers)
                continue
            bundle = scratch / f"bundle-{size}"
            started = time.perf_counter()
            written = write_bundle(replicated_lines(demo / "entries.jsonl", size), bundle)
            print(
                f"\nbundle:     {written:,} entries replicated from the demo's in "
                f"{time.perf_counter() - started:.0f} s"
            )
            measure(bundle, args.workers)
            if args.keep is None:
                shutil.rmtree(bundle)
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
