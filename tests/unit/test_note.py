"""Signed notes: reference vectors, one test per rejection, and tamper properties."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.note import (
    MAX_SIGNATURES,
    InvalidKeyError,
    InvalidSignatureError,
    KeyHashMismatchError,
    MalformedNoteError,
    Note,
    NoteError,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    generate_signer,
    key_hash,
    open_note,
    sign_note,
)

# Known-answer vectors from the reference implementation, golang.org/x/mod/sumdb/note
# (note_test.go and example_test.go, commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db).
# The EnochRoot key is the one Go's ExampleSign_add_signatures derives from an all-zero seed.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_SIG_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"— PeterNeumann {PETER_SIG_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_SIG_B64}\n"
PETER_NOTE = (TEXT + "\n" + PETER_SIG).encode()

# The worked example of the specification, c2sp.org/signed-note (signed-note.md, commit
# 5ba5ee830903e91240fc6f9f3a7a9293d49e69c9).
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"  # noqa: E501
).encode()

PETER = Verifier.from_vkey(PETER_VKEY)
ENOCH = Verifier.from_vkey(ENOCH_VKEY)


def peter_signature() -> Signature:
    return Signature("PeterNeumann", 0xC74F20A3, base64.b64decode(PETER_SIG_B64)[4:])


def enoch_signature() -> Signature:
    return Signature("EnochRoot", 0xAF0CFE78, base64.b64decode(ENOCH_SIG_B64)[4:])


# --- reference vectors -------------------------------------------------------------------------


def test_sign_note_matches_go_reference_signature_byte_for_byte() -> None:
    assert sign_note(TEXT, Signer.from_skey(PETER_SKEY)) == PETER_NOTE


def test_signer_from_go_skey_derives_go_vkey_and_key_hash() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert (signer.name, signer.key_hash, signer.vkey) == ("PeterNeumann", 0xC74F20A3, PETER_VKEY)


def test_signer_skey_reencodes_go_skey_exactly() -> None:
    assert Signer.from_skey(PETER_SKEY).skey == PETER_SKEY


def test_zero_seed_signer_matches_go_enoch_root_key_and_signature() -> None:
    signer = Signer("EnochRoot", bytes(32))
    assert signer.vkey == ENOCH_VKEY
    assert sign_note(TEXT, signer) == (TEXT + "\n" + ENOCH_SIG).encode()


def test_open_note_accepts_go_reference_note() -> None:
    assert open_note(PETER_NOTE, [PETER]) == Note(TEXT, (peter_signature(),), ())


def test_open_note_accepts_c2sp_specification_example() -> None:
    note = open_note(C2SP_NOTE, [Verifier.from_vkey(C2SP_VKEY)])
    assert note.text == "This is an example message.\n"


def test_key_hash_matches_go_reference_key() -> None:
    assert key_hash("PeterNeumann", PETER.public_key) == 0xC74F20A3


def test_signature_line_reencodes_the_parsed_line() -> None:
    assert peter_signature().line + "\n" == PETER_SIG


# --- what open_note accepts --------------------------------------------------------------------


def test_open_note_sets_aside_signatures_by_unknown_keys() -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [PETER])
    assert note.signatures == (peter_signature(),)
    assert note.unverified_signatures == (enoch_signature(),)


def test_open_note_verifies_every_trusted_signature() -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [PETER, ENOCH])
    assert note.signatures == (peter_signature(), enoch_signature())


def test_open_note_lists_a_repeated_signature_once() -> None:
    note = open_note((TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG * 2).encode(), [PETER])
    assert (len(note.signatures), len(note.unverified_signatures)) == (1, 1)


def test_open_note_uses_the_last_blank_line_as_separator() -> None:
    text = "first paragraph\n\nsecond paragraph\n"
    signer = Signer.from_skey(PETER_SKEY)
    assert open_note(sign_note(text, signer), [PETER]).text == text


def test_open_note_accepts_text_ending_in_a_blank_line() -> None:
    text = "a\n\n"
    assert open_note(sign_note(text, Signer.from_skey(PETER_SKEY)), [PETER]).text == text


def test_open_note_accepts_the_signature_limit() -> None:
    note = open_note((TEXT + "\n" + PETER_SIG * MAX_SIGNATURES).encode(), [PETER])
    assert note.signatures == (peter_signature(),)


def test_open_note_accepts_identical_duplicate_verifiers() -> None:
    assert open_note(PETER_NOTE, [PETER, Verifier.from_vkey(PETER_VKEY)]).text == TEXT


# --- one test per rejection --------------------------------------------------------------------


def test_open_note_rejects_invalid_utf8() -> None:
    with pytest.raises(MalformedNoteError, match="not valid UTF-8"):
        open_note(b"\xff" + PETER_NOTE, [PETER])


def test_open_note_rejects_control_characters() -> None:
    with pytest.raises(MalformedNoteError, match="control character U\\+0001"):
        open_note(b"\x01" + PETER_NOTE, [PETER])


def test_open_note_rejects_carriage_returns() -> None:
    with pytest.raises(MalformedNoteError, match="control character U\\+000D"):
        open_note(PETER_NOTE.replace(b"\n", b"\r\n"), [PETER])


def test_open_note_rejects_missing_blank_line() -> None:
    with pytest.raises(MalformedNoteError, match="no blank line"):
        open_note((TEXT + PETER_SIG).encode(), [PETER])


def test_open_note_rejects_missing_signature_lines() -> None:
    with pytest.raises(MalformedNoteError, match="no signature lines"):
        open_note((TEXT + "\n").encode(), [PETER])


def test_open_note_rejects_missing_final_newline() -> None:
    with pytest.raises(MalformedNoteError, match="does not end with a newline"):
        open_note(PETER_NOTE[:-1], [PETER])


def test_open_note_rejects_signature_line_without_em_dash() -> None:
    with pytest.raises(MalformedNoteError, match="line 1 does not start with"):
        open_note((TEXT + "\n- PeterNeumann " + PETER_SIG_B64 + "\n").encode(), [PETER])


def test_open_note_rejects_text_after_the_signatures() -> None:
    with pytest.raises(MalformedNoteError, match="line 2 does not start with"):
        open_note(PETER_NOTE + b"Unexpected line.\n", [PETER])


def test_open_note_rejects_signature_line_without_signature() -> None:
    with pytest.raises(MalformedNoteError, match="no space after the key name"):
        open_note((TEXT + "\n— PeterNeumann\n").encode(), [PETER])


def test_open_note_rejects_invalid_key_name_in_signature_line() -> None:
    with pytest.raises(MalformedNoteError, match="contains '\\+'"):
        open_note((TEXT + "\n— Peter+Neumann " + PETER_SIG_B64 + "\n").encode(), [PETER])


def test_open_note_rejects_bad_base64() -> None:
    with pytest.raises(MalformedNoteError, match="not canonical base64"):
        open_note((TEXT + "\n— PeterNeumann ***\n").encode(), [PETER])


def test_open_note_rejects_name_with_space_as_bad_base64() -> None:
    with pytest.raises(MalformedNoteError, match="not canonical base64"):
        open_note((TEXT + "\n— Peter Neumann " + PETER_SIG_B64 + "\n").encode(), [PETER])


def test_open_note_rejects_non_canonical_base64_signature() -> None:
    # The last character before "=" carries two unused bits; "N" sets one where "M" does not.
    mangled = PETER_SIG_B64[:-2] + "N="
    assert base64.b64decode(mangled) == base64.b64decode(PETER_SIG_B64)
    with pytest.raises(MalformedNoteError, match="not canonical base64"):
        open_note((TEXT + "\n— PeterNeumann " + mangled + "\n").encode(), [PETER])


def test_open_note_rejects_signature_shorter_than_key_hash_and_one_byte() -> None:
    with pytest.raises(MalformedNoteError, match="shorter than 5 bytes"):
        open_note((TEXT + "\n— PeterNeumann AAAAAA==\n").encode(), [PETER])


def test_open_note_rejects_too_many_signature_lines() -> None:
    with pytest.raises(MalformedNoteError, match="101 signature lines"):
        open_note((TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1)).encode(), [PETER])


def test_open_note_rejects_note_signed_only_by_unknown_keys() -> None:
    with pytest.raises(UnverifiedNoteError, match="no signature by a trusted key") as caught:
        open_note((TEXT + "\n" + ENOCH_SIG).encode(), [PETER])
    assert not isinstance(caught.value, KeyHashMismatchError)


def test_open_note_rejects_every_note_without_verifiers() -> None:
    with pytest.raises(UnverifiedNoteError, match="trusted: none"):
        open_note(PETER_NOTE, [])


def test_open_note_reports_key_hash_mismatch_for_trusted_name() -> None:
    other_hash = Signature("PeterNeumann", 0xC74F20A4, peter_signature().signature)
    with pytest.raises(KeyHashMismatchError, match=r"key hash c74f20a4.*has key hash c74f20a3"):
        open_note((TEXT + "\n" + other_hash.line + "\n").encode(), [PETER])


def test_open_note_rejects_altered_text() -> None:
    with pytest.raises(InvalidSignatureError, match="PeterNeumann\\+c74f20a3 does not verify"):
        open_note(PETER_NOTE.replace(b"problem,", b"problem;"), [PETER])


def test_open_note_rejects_altered_signature_bytes() -> None:
    bad = Signature("PeterNeumann", 0xC74F20A3, bytes(64))
    with pytest.raises(InvalidSignatureError):
        open_note((TEXT + "\n" + bad.line + "\n").encode(), [PETER])


def test_open_note_rejects_signature_of_wrong_length_by_trusted_key() -> None:
    short = Signature("PeterNeumann", 0xC74F20A3, peter_signature().signature[:-1])
    with pytest.raises(InvalidSignatureError):
        open_note((TEXT + "\n" + short.line + "\n").encode(), [PETER])


def test_open_note_rejects_bad_trusted_signature_next_to_a_good_one() -> None:
    # golang.org/x/mod skips a second signature by the same key; the spec says verify it.
    bad = Signature("PeterNeumann", 0xC74F20A3, bytes(64))
    with pytest.raises(InvalidSignatureError):
        open_note((TEXT + "\n" + PETER_SIG + bad.line + "\n").encode(), [PETER])


def test_open_note_rejects_two_trusted_keys_with_one_name_and_key_hash() -> None:
    # Two 32-byte strings whose key hashes under "collide" agree (found by a birthday search).
    first = Verifier("collide", (73153).to_bytes(32, "big"))
    second = Verifier("collide", (132274).to_bytes(32, "big"))
    assert first.key_hash == second.key_hash
    with pytest.raises(InvalidKeyError, match="two trusted keys share"):
        open_note(PETER_NOTE, [first, second])


# --- sign_note ---------------------------------------------------------------------------------


def test_sign_note_rejects_text_without_final_newline() -> None:
    with pytest.raises(MalformedNoteError, match="must end with a newline"):
        sign_note("no newline", Signer.from_skey(PETER_SKEY))


def test_sign_note_rejects_control_characters() -> None:
    with pytest.raises(MalformedNoteError, match="control character U\\+0009"):
        sign_note("tab\there\n", Signer.from_skey(PETER_SKEY))


def test_sign_note_rejects_lone_surrogates() -> None:
    with pytest.raises(MalformedNoteError, match="not valid Unicode"):
        sign_note("\ud800\n", Signer.from_skey(PETER_SKEY))


# --- keys --------------------------------------------------------------------------------------


def test_generated_vkey_round_trips() -> None:
    signer = generate_signer("example.org/log")
    verifier = Verifier.from_vkey(signer.vkey)
    assert verifier == signer.verifier
    assert verifier.vkey == signer.vkey


def test_generated_skey_round_trips() -> None:
    signer = generate_signer("example.org/log")
    assert Signer.from_skey(signer.skey).vkey == signer.vkey


def test_generated_signer_notes_open_with_its_vkey() -> None:
    signer = generate_signer("example.org/log")
    assert open_note(sign_note("hello\n", signer), [Verifier.from_vkey(signer.vkey)]).text == (
        "hello\n"
    )


def test_from_vkey_ignores_surrounding_whitespace() -> None:
    assert Verifier.from_vkey(f"  {PETER_VKEY}\n") == PETER


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("PeterNeumann+c74f20a3", "expected <name>\\+<key hash>\\+<key data>"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name is empty"),
        ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 lowercase hex"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 lowercase hex"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "not canonical"),
        ("PeterNeumann+c74f20a3+", "key data is empty"),
        # Go's own test vector: algorithm byte 0x65, key hash adjusted to match.
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm 0x65"),
        ("PeterNeumann+c74f20a3+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "got 31"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key hash mismatch"),
    ],
    ids=[
        "two-parts",
        "empty-name",
        "uppercase-hash",
        "short-hash",
        "bad-base64",
        "empty-key",
        "unknown-algorithm",
        "short-key",
        "hash-mismatch",
    ],
)
def test_from_vkey_rejects_malformed_keys(vkey: str, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        Verifier.from_vkey(vkey)


def test_from_vkey_rejects_every_proper_substring_of_a_vkey() -> None:
    # Mirrors TestNewVerifier in golang.org/x/mod/sumdb/note.
    for start in range(len(PETER_VKEY)):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) != (0, len(PETER_VKEY)):
                with pytest.raises(InvalidKeyError):
                    Verifier.from_vkey(PETER_VKEY[start:end])


def test_from_vkey_rejects_every_single_character_change() -> None:
    for index, char in enumerate(PETER_VKEY):
        mangled = PETER_VKEY[:index] + chr(ord(char) + 1) + PETER_VKEY[index + 1 :]
        with pytest.raises(InvalidKeyError):
            Verifier.from_vkey(mangled)


def test_from_skey_rejects_every_single_character_change() -> None:
    for index, char in enumerate(PETER_SKEY):
        mangled = PETER_SKEY[:index] + chr(ord(char) + 1) + PETER_SKEY[index + 1 :]
        with pytest.raises(InvalidKeyError):
            Signer.from_skey(mangled)


def test_from_skey_rejects_a_vkey() -> None:
    with pytest.raises(InvalidKeyError, match="must start with 'PRIVATE\\+KEY\\+'"):
        Signer.from_skey(PETER_VKEY)


def test_from_skey_rejects_missing_parts() -> None:
    with pytest.raises(InvalidKeyError, match="expected PRIVATE\\+KEY\\+<name>"):
        Signer.from_skey("PRIVATE+KEY+PeterNeumann+c74f20a3")


def test_from_skey_rejects_key_hash_of_another_key_without_showing_the_secret() -> None:
    seed_b64 = PETER_SKEY.split("+", 4)[4]  # the seed itself holds a "+"
    with pytest.raises(InvalidKeyError, match="key hash mismatch") as caught:
        Signer.from_skey(PETER_SKEY.replace("c74f20a3", "c74f20a4"))
    assert seed_b64 not in str(caught.value)


def test_signer_repr_does_not_show_the_secret() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert repr(signer) == "Signer(name='PeterNeumann', key_hash=c74f20a3)"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("a+b", "contains '\\+'"),
        ("a b", "whitespace"),
        ("a\tb", "whitespace"),
        ("a\u00a0b", "whitespace"),
        ("a\u2028b", "whitespace"),
        ("a\x00b", "control character"),
        ("a\ud800b", "not valid Unicode"),
    ],
    ids=["empty", "plus", "space", "tab", "nbsp", "line-separator", "nul", "surrogate"],
)
def test_generate_signer_rejects_invalid_key_names(name: str, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        generate_signer(name)


def test_verifier_rejects_public_key_of_wrong_length() -> None:
    with pytest.raises(InvalidKeyError, match="32 bytes, got 31"):
        Verifier("example.org/log", bytes(31))


def test_signer_rejects_seed_of_wrong_length() -> None:
    with pytest.raises(InvalidKeyError, match="seed must be 32 bytes"):
        Signer("example.org/log", bytes(31))


def test_every_note_error_has_a_code() -> None:
    errors = [InvalidKeyError, MalformedNoteError, UnverifiedNoteError, InvalidSignatureError]
    codes = {error.code for error in errors} | {KeyHashMismatchError.code}
    assert len(codes) == 5
    assert all(issubclass(error, NoteError) for error in errors)


# --- properties --------------------------------------------------------------------------------


@given(st.data())
def test_any_single_byte_change_of_a_signed_note_is_rejected(data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(PETER_NOTE) - 1), label="index")
    byte = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != PETER_NOTE[index]),
        label="byte",
    )
    mangled = PETER_NOTE[:index] + bytes([byte]) + PETER_NOTE[index + 1 :]
    with pytest.raises(NoteError):
        open_note(mangled, [PETER])


note_texts = st.text(
    alphabet=st.characters(min_codepoint=0x20, exclude_categories=["Cs"]) | st.just("\n")
).map(lambda text: text + "\n")


@given(note_texts)
def test_every_valid_text_round_trips_through_sign_and_open(text: str) -> None:
    note = open_note(sign_note(text, Signer.from_skey(PETER_SKEY)), [PETER])
    assert note.text == text
