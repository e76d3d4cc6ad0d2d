"""EntropyDetector: agreement with detect-secrets' high-entropy plugins, and its heuristic filters."""

from __future__ import annotations

import base64
import random
import secrets
import string
import uuid

import pytest
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString

from scanner.detectors.base import Content, RawMatch
from scanner.detectors.entropy import EntropyDetector, classify_token, hex_entropy, shannon_entropy

B64 = string.ascii_letters + string.digits + "+/"


def scan(path: str, data: bytes) -> list[RawMatch]:
    return list(EntropyDetector().scan_content(Content(path, None, data, 0, len(data), True, True)))


def reference(line: str) -> set[tuple[str, str]]:
    """What detect-secrets' two entropy plugins report on one line: (kind, value)."""
    out = set()
    for kind, plugin in (("base64", Base64HighEntropyString()), ("hex", HexHighEntropyString())):
        for found in plugin.analyze_line(filename="app/config.py", line=line):
            out.add((kind, str(found.secret_value)))
    return out


def sample_tokens() -> list[str]:
    rng = random.Random(secrets.randbits(32))
    tokens = []
    for n in (20, 24, 32, 40, 48, 64):
        tokens.append("".join(rng.choice(B64) for _ in range(n)))
        tokens.append("".join(rng.choice("0123456789abcdef") for _ in range(n)))
        tokens.append("".join(rng.choice("abcdefgh") for _ in range(n)))  # low entropy
        tokens.append("".join(rng.choice(string.digits) for _ in range(n)))  # all digits: penalised
        tokens.append("".join(rng.choice(string.ascii_lowercase) for _ in range(n)))  # just under the limit
    tokens.append(secrets.token_urlsafe(32))
    tokens.append(secrets.token_hex(20))
    return tokens


def test_entropy_function_matches_detect_secrets_to_1e_12() -> None:
    b64, hx = Base64HighEntropyString(), HexHighEntropyString()
    for token in sample_tokens():
        assert shannon_entropy(token) == pytest.approx(b64.calculate_shannon_entropy(token), abs=1e-12)
        if set(token) <= set(string.hexdigits):
            assert hex_entropy(token) == pytest.approx(hx.calculate_shannon_entropy(token), abs=1e-12)


def test_classification_agrees_with_detect_secrets_on_quoted_strings() -> None:
    for token in sample_tokens():
        expected = reference(f'value = "{token}"')
        kind = classify_token(token)
        assert ({(kind, token)} if kind else set()) == expected, token


def test_detector_agrees_with_detect_secrets_for_random_tokens_with_letters() -> None:
    for token in sample_tokens():
        if not set(token) & set(string.ascii_letters):
            continue  # detect-secrets' is_not_alphanumeric_string filter drops these in a full scan
        line = f"password = '{token}'"
        got = {(m.rule.split("/")[1], m.secret) for m in scan("app/config.py", line.encode())}
        assert got == reference(line), token


def test_span_is_the_token_bytes() -> None:
    token = secrets.token_urlsafe(32)
    data = f'x = 1\nAPI = "{token}"\n'.encode()
    [m] = scan("app/settings.py", data)
    assert data[m.start : m.end] == token.encode() and m.rule == "entropy/base64"


def test_unquoted_assignment_values_are_candidates() -> None:
    token = secrets.token_urlsafe(32)
    assert [m.secret for m in scan("app/app.ini", f"[s]\nsecret_key = {token}\n".encode())] == [token]
    assert [m.secret for m in scan("app/c.yaml", f"auth:\n  key: {token}\n".encode())] == [token]


def test_unquoted_value_in_prose_is_not_a_candidate() -> None:
    token = secrets.token_urlsafe(32)
    assert scan("doc/readme.txt", f"see the value {token} here\n".encode()) == []


def test_binary_windows_are_skipped() -> None:
    token = secrets.token_urlsafe(32)
    assert scan("app/blob.dat", b"\x00\x01" + f'"{token}"'.encode()) == []


def test_lock_and_checksum_files_are_skipped() -> None:
    line = f'"{secrets.token_hex(32)}"\n'.encode()
    for path in ("app/package-lock.json", "app/go.sum", "usr/lib/python3/dist-packages/x.dist-info/RECORD"):
        assert scan(path, line) == []


@pytest.mark.parametrize(
    "line",
    [
        'id = "{uuid}"',
        '"integrity": "sha512-{std64}"',
        'sha256 = "{hex64}"',
        'commit: "{hex40}"',
        'user_id = "{b64}"',
        'charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"',
        'path = "usr/lib/python3.11/site-packages/pkg_resources/extern"',
    ],
)
def test_heuristic_filters_drop_non_secrets(line: str) -> None:
    text = line.format(
        uuid=uuid.uuid4(),
        std64=base64.b64encode(secrets.token_bytes(64)).decode(),
        b64=secrets.token_urlsafe(48),
        hex64=secrets.token_hex(32),
        hex40=secrets.token_hex(20),
    )
    assert scan("app/x.py", text.encode()) == []


def test_hex_key_outside_checksum_context_is_reported() -> None:
    token = secrets.token_hex(32)
    [m] = scan("app/x.py", f'SIGNING_KEY = "{token}"\n'.encode())
    assert m.rule == "entropy/hex" and m.secret == token


def test_rules_are_low_severity() -> None:
    assert {(r.id, r.severity.label) for r in EntropyDetector().rules} == {
        ("entropy/base64", "low"),
        ("entropy/hex", "low"),
    }


def test_hyperscan_candidate_search_gives_exactly_the_re_candidates() -> None:
    rng = random.Random(5)
    alphabet = "ab=+/_-:'\" \t\nXYZ0123456789"
    pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120))) for _ in range(300)]
    data = "".join(pieces).encode() + b'\nkey = "' + b"Q" * 9000 + b'"\ntoken="==abc' + b"x9" * 30 + b'"\n'
    fast, plain = EntropyDetector(use_hyperscan=True), EntropyDetector(use_hyperscan=False)
    assert list(fast._candidates(data)) == list(plain._candidates(data))
    assert list(fast._candidates(data))  # the corpus does hold candidates
    content = Content("settings.env", None, data, 0, len(data), True, True)
    assert list(fast.scan_content(content)) == list(plain.scan_content(content))
