"""Checkpoints: body format, one test per rejection, signing, and the signing key file."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

import ledger.checkpoint
from ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    KeyFileError,
    OriginMismatchError,
    load_or_create_signer,
    open_checkpoint,
    sign_checkpoint,
)
from ledger.note import (
    InvalidSignatureError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    generate_signer,
    sign_note,
)

ORIGIN = "ledger.example.org/log"
ROOT = hashlib.sha256(b"\x00hello world").digest()
ROOT_B64 = "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="

# golang.org/x/mod/sumdb/tlog note_test.go (commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db):
# the tree note of size 123456789012 whose root is RecordHash("hello world") = SHA-256(0x00 ‖ …).
GO_TREE_BODY = f"go.sum database tree\n123456789012\n{ROOT_B64}\n"

# The example checkpoint of c2sp.org/tlog-checkpoint (tlog-checkpoint.md, commit
# 5ba5ee830903e91240fc6f9f3a7a9293d49e69c9); its key is not published, so only the body is used.
C2SP_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

skip_without_posix_modes = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture(scope="module")
def signer() -> Signer:
    return generate_signer(ORIGIN)


def body_with(size: str = "5", root: str = ROOT_B64, origin: str = ORIGIN) -> str:
    return f"{origin}\n{size}\n{root}\n"


# --- body format -------------------------------------------------------------------------------


def test_body_matches_go_tree_note_format() -> None:
    assert Checkpoint("go.sum database tree", 123456789012, ROOT).body() == GO_TREE_BODY


def test_parse_reads_go_tree_note() -> None:
    assert Checkpoint.parse(GO_TREE_BODY) == Checkpoint("go.sum database tree", 123456789012, ROOT)


def test_parse_reads_c2sp_example_checkpoint() -> None:
    checkpoint = Checkpoint.parse(C2SP_BODY)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == C2SP_BODY


def test_extension_lines_round_trip() -> None:
    checkpoint = Checkpoint(ORIGIN, 7, ROOT, ("Timestamp: 1679349379012118479", "x"))
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


def test_empty_tree_has_size_zero() -> None:
    empty_root = hashlib.sha256(b"").digest()
    assert Checkpoint.parse(Checkpoint(ORIGIN, 0, empty_root).body()).size == 0


def test_origin_may_contain_spaces() -> None:
    # The spec only recommends schema-less URLs; Rekor's origins contain spaces.
    body = body_with(origin="rekor.sigstore.dev - 1193050959916656506")
    assert Checkpoint.parse(body).origin == "rekor.sigstore.dev - 1193050959916656506"


def test_largest_tree_size_is_accepted() -> None:
    assert Checkpoint.parse(body_with(size=str(MAX_TREE_SIZE))).size == MAX_TREE_SIZE


# --- parse rejections --------------------------------------------------------------------------


def test_parse_rejects_body_without_final_newline() -> None:
    with pytest.raises(CheckpointError, match="must end with a newline"):
        Checkpoint.parse(GO_TREE_BODY[:-1])


def test_parse_rejects_body_with_fewer_than_three_lines() -> None:
    with pytest.raises(CheckpointError, match="has 2 lines"):
        Checkpoint.parse(f"{ORIGIN}\n5\n")


def test_parse_rejects_empty_origin() -> None:
    with pytest.raises(CheckpointError, match="origin is empty"):
        Checkpoint.parse(body_with(origin=""))


def test_parse_rejects_control_character_in_origin() -> None:
    with pytest.raises(CheckpointError, match="origin contains control character U\\+000D"):
        Checkpoint.parse(body_with(origin=ORIGIN + "\r"))


@pytest.mark.parametrize(
    "size",
    ["", "01", "00", "-1", "+1", " 1", "1 ", "1_000", "0x10", "1e3", "١٢", "１"],
    ids=[
        "empty",
        "leading-zero",
        "double-zero",
        "negative",
        "plus",
        "leading-space",
        "trailing-space",
        "underscore",
        "hex",
        "exponent",
        "arabic-indic-digits",
        "fullwidth-digit",
    ],
)
def test_parse_rejects_tree_size_that_is_not_plain_decimal(size: str) -> None:
    with pytest.raises(CheckpointError, match="tree size must be ASCII decimal"):
        Checkpoint.parse(body_with(size=size))


@pytest.mark.parametrize("size", [str(MAX_TREE_SIZE + 1), "9" * 5000], ids=["int64+1", "huge"])
def test_parse_rejects_tree_size_beyond_int64(size: str) -> None:
    with pytest.raises(CheckpointError, match="tree size is larger than"):
        Checkpoint.parse(body_with(size=size))


def test_parse_rejects_root_that_is_not_base64() -> None:
    with pytest.raises(CheckpointError, match="root hash must be 32 bytes in standard base64"):
        Checkpoint.parse(body_with(root="not base64!"))


def test_parse_rejects_url_safe_base64_root() -> None:
    root = base64.b64encode(bytes([0xFB]) * 32).decode()
    assert "+" in root or "/" in root
    with pytest.raises(CheckpointError, match="standard base64"):
        Checkpoint.parse(body_with(root=root.replace("+", "-").replace("/", "_")))


@pytest.mark.parametrize("length", [31, 33, 64])
def test_parse_rejects_root_of_wrong_length(length: int) -> None:
    with pytest.raises(CheckpointError, match="root hash must be 32 bytes"):
        Checkpoint.parse(body_with(root=base64.b64encode(bytes(length)).decode()))


def test_parse_rejects_non_canonical_root_encoding() -> None:
    # The character before "=" carries two unused bits; "1" sets one where "0" does not.
    mangled = ROOT_B64[:-2] + "1="
    assert base64.b64decode(mangled) == ROOT
    with pytest.raises(CheckpointError, match="not canonical base64"):
        Checkpoint.parse(body_with(root=mangled))


def test_parse_rejects_empty_extension_line() -> None:
    with pytest.raises(CheckpointError, match="extension line 1 is empty"):
        Checkpoint.parse(body_with() + "\n")


# --- constructor rejections --------------------------------------------------------------------


def test_checkpoint_rejects_empty_origin() -> None:
    with pytest.raises(CheckpointError, match="origin is empty"):
        Checkpoint("", 1, ROOT)


def test_checkpoint_rejects_origin_with_newline() -> None:
    with pytest.raises(CheckpointError, match="origin contains control character U\\+000A"):
        Checkpoint("a\nb", 1, ROOT)


@pytest.mark.parametrize("size", [-1, MAX_TREE_SIZE + 1, True], ids=["negative", "big", "bool"])
def test_checkpoint_rejects_size_out_of_range(size: int) -> None:
    with pytest.raises(CheckpointError, match="tree size must be an integer"):
        Checkpoint(ORIGIN, size, ROOT)


def test_checkpoint_rejects_root_of_wrong_length() -> None:
    with pytest.raises(CheckpointError, match="32 bytes, got 31"):
        Checkpoint(ORIGIN, 1, ROOT[:31])


def test_checkpoint_rejects_extension_with_newline() -> None:
    with pytest.raises(CheckpointError, match="extension line 2 contains control character"):
        Checkpoint(ORIGIN, 1, ROOT, ("ok", "two\nlines"))


# --- signing and opening -----------------------------------------------------------------------


def test_signed_checkpoint_opens_to_the_same_checkpoint(signer: Signer) -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT)
    assert open_checkpoint(sign_checkpoint(checkpoint, signer), signer.verifier, ORIGIN) == (
        checkpoint
    )


def test_signed_checkpoint_is_the_body_then_a_signature_line(signer: Signer) -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT)
    signed = sign_checkpoint(checkpoint, signer).decode()
    assert signed.startswith(checkpoint.body() + "\n— " + ORIGIN + " ")


def test_open_checkpoint_without_expected_origin_accepts_any_origin(signer: Signer) -> None:
    checkpoint = Checkpoint("another.example/log", 1, ROOT)
    assert open_checkpoint(sign_checkpoint(checkpoint, signer), signer.verifier, None) == (
        checkpoint
    )


def test_open_checkpoint_rejects_another_origin(signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint("another.example/log", 1, ROOT), signer)
    with pytest.raises(OriginMismatchError, match=r"'another\.example/log', expected"):
        open_checkpoint(signed, signer.verifier, ORIGIN)


def test_open_checkpoint_rejects_checkpoint_signed_by_another_key(signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), generate_signer("someone.else"))
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(signed, signer.verifier, ORIGIN)


def test_open_checkpoint_rejects_altered_tree_size(signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 41, ROOT), signer)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(signed.replace(b"\n41\n", b"\n42\n"), signer.verifier, ORIGIN)


def test_open_checkpoint_rejects_signed_note_that_is_not_a_checkpoint(signer: Signer) -> None:
    signed = sign_note(f"{ORIGIN}\nnot a size\n", signer)
    with pytest.raises(CheckpointError, match="has 2 lines"):
        open_checkpoint(signed, signer.verifier, ORIGIN)


def test_checkpoint_errors_are_note_errors() -> None:
    assert issubclass(OriginMismatchError, CheckpointError)
    assert issubclass(CheckpointError, NoteError)
    assert issubclass(KeyFileError, NoteError)


# --- the signing key file ----------------------------------------------------------------------


@skip_without_posix_modes
def test_key_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    load_or_create_signer(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_holds_the_signer_key_line(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    signer = load_or_create_signer(path, ORIGIN)
    assert path.read_text() == signer.skey + "\n"
    assert signer.name == ORIGIN


def test_key_file_is_reused_on_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    first = load_or_create_signer(path, ORIGIN)
    assert load_or_create_signer(path, ORIGIN).vkey == first.vkey


def test_key_file_creation_makes_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "state" / "keys" / "log.key"
    load_or_create_signer(path, ORIGIN)
    assert path.is_file()


def test_key_file_creation_leaves_no_temporary_files(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path / "log.key", ORIGIN)
    assert [entry.name for entry in tmp_path.iterdir()] == ["log.key"]


def test_key_file_created_by_a_concurrent_start_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.key"
    winner = generate_signer(ORIGIN)

    def generate_while_another_process_writes(name: str) -> Signer:
        path.write_text(winner.skey + "\n")
        path.chmod(0o600)
        return generate_signer(name)

    monkeypatch.setattr(ledger.checkpoint, "generate_signer", generate_while_another_process_writes)
    assert load_or_create_signer(path, ORIGIN).vkey == winner.vkey
    assert path.read_text() == winner.skey + "\n"


@skip_without_posix_modes
def test_key_file_with_mode_0400_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    signer = load_or_create_signer(path, ORIGIN)
    path.chmod(0o400)
    assert load_or_create_signer(path, ORIGIN).vkey == signer.vkey


@skip_without_posix_modes
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_key_file_accessible_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.key"
    load_or_create_signer(path, ORIGIN)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}.*chmod 600"):
        load_or_create_signer(path, ORIGIN)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key\n", ORIGIN.encode() + b"+00000000+AAAA\n"],
    ids=["empty", "garbage", "vkey-like"],
)
def test_malformed_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "log.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="is malformed"):
        load_or_create_signer(path, ORIGIN)


def test_non_ascii_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    path.write_bytes(b"\xff\xfe")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not ASCII text"):
        load_or_create_signer(path, ORIGIN)


def test_malformed_key_file_error_does_not_show_the_key(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    skey = generate_signer(ORIGIN).skey
    # PRIVATE+KEY+<name>+<hash>+<seed>: the base64 seed may itself hold "+" signs.
    private, key, name, key_hash, seed_b64 = skey.split("+", 4)
    assert key_hash != "00000000"
    tampered = "+".join((private, key, name, "00000000", seed_b64))
    path.write_text(tampered + "\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="key hash mismatch") as caught:
        load_or_create_signer(path, ORIGIN)
    assert seed_b64 not in str(caught.value)


def test_key_file_for_another_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    load_or_create_signer(path, "old.example/log")
    with pytest.raises(KeyFileError, match=r"named 'old\.example/log', expected"):
        load_or_create_signer(path, ORIGIN)


def test_key_file_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_or_create_signer(tmp_path, ORIGIN)


def test_key_file_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(KeyFileError, match=r"cannot (open|create) key file"):
        load_or_create_signer(blocker / "log.key", ORIGIN)


def test_key_file_is_not_created_for_an_invalid_key_name(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    with pytest.raises(KeyFileError, match="cannot create a key named"):
        load_or_create_signer(path, "has space")
    assert not path.exists()
