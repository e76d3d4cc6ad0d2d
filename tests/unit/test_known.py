"""Known-secret proof: --secret specs, values out of secret files, every encoding found everywhere."""

from __future__ import annotations

import base64
import json
import pickle
import random
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from scanner.detectors.base import Content, MetadataString
from scanner.detectors.engine import hyperscan_available
from scanner.detectors.known import KnownSecretDetector, encodings
from scanner.detectors.known_values import KnownSecret, KnownSecretSpec, load_known_secrets, parse_secret_spec
from scanner.errors import UsageError
from scanner.findings import Severity

VALUE = "kS9-fake-Build-Token/+42"
ENGINES = [pytest.param(True, id="hyperscan"), pytest.param(False, id="python-re")]


@pytest.fixture(autouse=True)
def _fingerprint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.findings import reset_fingerprint_key

    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "test-key-" * 5)
    reset_fingerprint_key()


def _secret(value: str = VALUE, sid: str = "tok") -> KnownSecret:
    return KnownSecret(id=sid, values=(value,), fingerprint="f" * 32)


def _window(data: bytes, offset: int = 0, path: str = "app/blob") -> Content:
    return Content(
        path=path, inner_path=None, data=data, offset=offset, size=len(data), is_first=offset == 0,
        is_last=True,
    )  # fmt: skip


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> bool:
    if request.param and not hyperscan_available():
        pytest.skip("hyperscan not installed")
    return bool(request.param)


# --- spec parsing ---


def test_spec_forms_follow_docker_build() -> None:
    assert parse_secret_spec("id=netrc,src=./netrc") == KnownSecretSpec("netrc", "file", "./netrc")
    assert parse_secret_spec("id=n,source=/x") == KnownSecretSpec("n", "file", "/x")
    assert parse_secret_spec("id=tok,env=GH_TOKEN") == KnownSecretSpec("tok", "env", "GH_TOKEN")
    assert parse_secret_spec("id=GH_TOKEN") == KnownSecretSpec("GH_TOKEN", "env", "GH_TOKEN")
    assert parse_secret_spec("type=file,id=a,src=b") == KnownSecretSpec("a", "file", "b")


@pytest.mark.parametrize(
    "spec", ["src=x", "id=", "id=a,foo=b", "id=a,src=x,env=Y", "id=a,type=socket", "nonsense", "id=a,id=b"]
)
def test_bad_spec_is_a_one_line_usage_error(spec: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_secret_spec(spec)
    assert "\n" not in str(err.value) and "--secret" in str(err.value)


def test_missing_file_and_unset_env_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(UsageError, match="cannot read"):
        load_known_secrets([f"id=a,src={tmp_path / 'missing'}"])
    with pytest.raises(UsageError, match="not set"):
        load_known_secrets(["id=NOPE_NOT_SET"])


# --- values taken out of secret files ---


def _load(tmp_path: Path, name: str, text: str) -> KnownSecret:
    p = tmp_path / name
    p.write_text(text)
    return load_known_secrets([f"id={name},src={p}"])[0]


def test_netrc_password_is_a_value_but_login_is_not(tmp_path: Path) -> None:
    ks = _load(tmp_path, "netrc", "machine github.com login octo-user password ghp_fakeFAKEfake123456\n")
    assert "ghp_fakeFAKEfake123456" in ks.values
    assert "octo-user" not in ks.values


def test_env_file_values_are_taken_but_short_non_credential_ones_are_not(tmp_path: Path) -> None:
    ks = _load(tmp_path, "env", "export API_TOKEN='t0k3n-value-123456'\nDEBUG=true\nDB_PASS=abc\n")
    assert "t0k3n-value-123456" in ks.values
    assert "true" not in ks.values
    # A short value under a credential name is searched where it would be a credential, with a warning.
    assert "abc" not in ks.values and "password=abc" in ks.values and ":abc@" in ks.values
    assert any("guessable 3-character" in w for w in ks.warnings)


def test_json_leaves_and_docker_config_auth_password(tmp_path: Path) -> None:
    auth = base64.b64encode(b"robot:dckr-pw-0987654321").decode()
    doc = {
        "auths": {"registry.example.com": {"auth": auth}},
        "other": {"key": "long-enough-leaf"},
        "n": "short",
    }
    ks = _load(tmp_path, "config.json", json.dumps(doc))
    assert {auth, "dckr-pw-0987654321", "long-enough-leaf"} <= set(ks.values)
    assert "short" not in ks.values


def test_pem_body_and_its_long_lines_are_values(tmp_path: Path) -> None:
    lines = ["MIIEpAIBAAKCAQEA" + "x" * 48, "y" * 64, "zzzz"]
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n"
    ks = _load(tmp_path, "key.pem", pem)
    assert "".join(lines) in ks.values
    assert lines[0] in ks.values and lines[1] in ks.values
    assert pem in ks.values and pem.strip() in ks.values


def test_five_character_value_warns_and_is_still_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORTPW", "ab3de")
    ks = load_known_secrets(["id=SHORTPW"])[0]
    assert ks.values == ("ab3de",)
    assert ks.warnings == ("value 1 of secret SHORTPW is only 5 characters: matches may be coincidental",)
    det = KnownSecretDetector([ks])
    assert [m.secret for m in det.scan_content(_window(b"xx ab3de yy"))] == ["ab3de"]


def test_empty_secret_file_warns(tmp_path: Path) -> None:
    ks = _load(tmp_path, "empty", "\n")
    assert ks.values == () and ks.warnings == ("secret empty is empty: nothing to search for",)


def test_fingerprint_is_keyed_and_values_never_show_in_repr_or_str(tmp_path: Path) -> None:
    ks = _load(tmp_path, "tok", VALUE + "\n")
    text = repr(ks) + str(ks) + repr([ks])
    for v in ks.values:
        assert v not in text
    assert VALUE not in text and len(ks.fingerprint) == 32
    assert pickle.loads(pickle.dumps(ks)) == ks  # worker processes receive it


# --- encodings found ---


def _b64_embedded(value: str, prefix: bytes, urlsafe: bool) -> bytes:
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return enc(prefix + value.encode() + b"-tail")


@pytest.mark.parametrize(
    ("encoding", "blob"),
    [
        ("raw", VALUE.encode()),
        ("utf-16le", VALUE.encode("utf-16-le")),
        ("hex", VALUE.encode().hex().encode()),
        ("hex", VALUE.encode().hex().upper().encode()),
        ("base64", _b64_embedded(VALUE, b"", False)),
        ("base64", _b64_embedded(VALUE, b"u", False)),
        ("base64", _b64_embedded(VALUE, b"us", False)),
        ("base64url", _b64_embedded(VALUE, b"", True)),
        ("base64url", _b64_embedded(VALUE, b"u", True)),
        ("base64url", _b64_embedded(VALUE, b"us", True)),
        ("url-encoded", quote(VALUE, safe="").encode()),
        ("url-encoded", quote_plus(VALUE + " x", safe="").encode()),
    ],
)
def test_each_encoding_is_found_in_text_and_in_a_binary_blob(
    engine: bool, encoding: str, blob: bytes
) -> None:
    det = KnownSecretDetector([_secret(VALUE), _secret(VALUE + " x", sid="tok")], engine)
    for data in (b"config: " + blob + b"\n", b"\x00\xff\x7fELF" + blob + b"\x00\x00\x01"):
        # A value whose base64 has no + or / reads the same in both alphabets: reported once, as base64.
        hits = [
            m
            for m in det.scan_content(_window(data))
            if (m.note or "").removesuffix("url") == encoding.removesuffix("url")
        ]
        assert hits, (encoding, data)
        m = hits[0]
        assert m.rule == "known-secret" and m.known_secret_id == "tok"
        assert data[m.start : m.end] in (m.secret.encode(), m.secret.encode("utf-16-le"))


def test_json_escaped_value_is_found(engine: bool) -> None:
    value = 'multi\nline "quoted" secret'
    det = KnownSecretDetector([_secret(value)], engine)
    data = json.dumps({"k": value}).encode()
    assert [m.note for m in det.scan_content(_window(data))] == ["json-escaped"]


def test_value_across_the_window_overlap_is_found_at_its_absolute_offset(engine: bool) -> None:
    det = KnownSecretDetector([_secret()], engine)
    file_bytes = b"a" * 1000 + VALUE.encode() + b"b" * 1000
    where = 1000
    # Two windows overlapping by 64 bytes; the value straddles the first window's end.
    first = _window(file_bytes[: where + 10], 0)
    second = _window(file_bytes[where + 10 - 64 :], where + 10 - 64)
    found = {w.offset + m.start for w in (first, second) for m in det.scan_content(w)}
    assert found == {where}


def test_metadata_string_is_searched_with_char_offsets(engine: bool) -> None:
    det = KnownSecretDetector([_secret()], engine)
    value = f"RUN ünï --token={VALUE} x"
    item = MetadataString(kind="history", key="created_by", value=value, history_index=1)
    hits = list(det.scan_metadata(item))
    assert len(hits) == 1 and value[hits[0].start : hits[0].end] == VALUE


def test_matches_name_the_secret_and_the_rule_is_critical(engine: bool) -> None:
    det = KnownSecretDetector([_secret(sid="one"), _secret("another-fake-value-9", sid="two")], engine)
    hits = list(det.scan_content(_window(b"another-fake-value-9 and " + VALUE.encode())))
    assert sorted(m.known_secret_id or "" for m in hits) == ["one", "two"]
    assert det.rules[0].id == "known-secret" and det.rules[0].severity == Severity.CRITICAL


def test_short_encoded_forms_are_not_searched() -> None:
    names = {name for name, _ in encodings("ab3de")}
    assert names == {"raw", "utf-16le", "hex"}


def test_a_guessable_netrc_password_is_searched_in_credential_contexts_not_alone(tmp_path: Path) -> None:
    ks = _load(tmp_path, "netrc", "machine 127.0.0.1\nlogin admin\npassword password\n")
    assert "password" not in ks.values
    assert "password password" in ks.values and "admin:password" in ks.values
    assert any("guessable 8-character" in w for w in ks.warnings)
    det = KnownSecretDetector([ks])
    assert not list(det.scan_content(_window(b"Enter your password: ")))  # ordinary text
    found = {m.secret for m in det.scan_content(_window(b"curl -u admin:password http://x/"))}
    assert found == {"admin:password"}
    header = base64.b64encode(b"admin:password")
    assert [m.note for m in det.scan_content(_window(b"Authorization: Basic " + header))] == ["base64"]


# --- long secrets ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[4096, 8192], ids=["rsa4096", "rsa8192"])
def long_key(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private key of that many bits, made for this test run only (never committed)."""
    bits = int(request.param)
    path = tmp_path_factory.mktemp("keys") / f"rsa{bits}.pem"
    if bits <= 4096 and shutil.which("openssl"):
        subprocess.run(["openssl", "genrsa", "-out", str(path), str(bits)], check=True, capture_output=True)
    else:  # generating 8192-bit keys takes minutes on CI: the same shape and length, random
        body = base64.encodebytes(random.Random(bits).randbytes(bits * 9 // 16)).decode()
        path.write_text(f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n")
    return path


def test_a_long_secret_is_found_raw_and_in_every_long_encoding(long_key: Path, engine: bool) -> None:
    key = long_key.read_text()
    assert len(key) > 3000
    ks = load_known_secrets([f"id=key,src={long_key}"])[0]
    det = KnownSecretDetector([ks], use_hyperscan=engine)
    raw = key.encode()
    for encoding, form in [
        ("raw", raw),
        ("base64", base64.b64encode(raw)),
        ("hex", raw.hex().encode()),
        ("utf-16le", key.encode("utf-16-le")),
    ]:
        data = b"\x00head " + form + b" tail\n"
        longest = max(det.scan_content(_window(data)), key=lambda m: m.end - m.start)
        found = data[longest.start : longest.end]
        # A base64 form leaves out its last characters, which also depend on the bytes after the value.
        assert longest.note == encoding and form.startswith(found) and len(found) >= len(form) - 4, encoding


def test_a_long_value_differing_after_its_first_bytes_is_not_a_match(engine: bool) -> None:
    value = "L" + "".join(random.Random(2).choices("abcdefghijklmnop0123456789", k=2000))
    det = KnownSecretDetector([_secret(value)], use_hyperscan=engine)
    near = value[:-1] + ("x" if value[-1] != "x" else "y")
    assert det.scan_content(_window(f"[{near}]".encode())) == []
    assert [m.secret for m in det.scan_content(_window(f"[{value}]".encode()))] == [value]
