"""SensitiveFileDetector: credential files by path, private keys and keystores by content, whiteouts."""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import secrets
import string
import textwrap

import pytest

from scanner.detectors.base import Content, RawMatch
from scanner.detectors.filenames import SensitiveFileDetector, sensitive_format
from scanner.findings import Severity


@dataclasses.dataclass(frozen=True)
class _Entry:
    path: str
    kind: str
    linkname: str | None = None


def scan(path: str, data: bytes, inner_path: str | None = None) -> list[RawMatch]:
    return list(
        SensitiveFileDetector().scan_content(Content(path, inner_path, data, 0, len(data), True, True))
    )


def fake(n: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def pem(kind: str = "PRIVATE KEY", body: bytes | None = None) -> bytes:
    b64 = base64.b64encode(body if body is not None else secrets.token_bytes(600)).decode()
    lines = "\n".join(textwrap.wrap(b64, 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()


def openssh_key(cipher: bytes = b"none") -> bytes:
    def s(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    raw = b"openssh-key-v1\x00" + s(cipher) + s(cipher) + s(b"") + secrets.token_bytes(300)
    return pem("OPENSSH PRIVATE KEY", raw)


def rules(matches: list[RawMatch]) -> list[str]:
    return [m.rule for m in matches]


def test_tutorial_netrc_with_weak_password_is_a_credential() -> None:
    data = b"machine 127.0.0.1\nlogin admin\npassword password\n"
    [m] = scan("root/.netrc", data)
    assert m.rule == "credential-file/netrc"
    assert data[m.start : m.end] == b"password" and m.secret == "password"
    assert m.start == data.rindex(b"password")


def test_zero_byte_netrc_mount_point_is_not_reported() -> None:
    assert scan("root/.netrc", b"") == []


def test_templated_netrc_password_is_not_reported() -> None:
    assert scan("root/.netrc", b"machine example.com login ci password ${NETRC_PASSWORD}\n") == []


def test_unparseable_non_empty_netrc_is_a_sensitive_file() -> None:
    [m] = scan("root/.netrc", b"this is not a netrc at all\n")
    assert m.rule == "sensitive-file/netrc"


def test_symlink_target_text_at_a_sensitive_path_is_not_reported() -> None:
    assert scan("root/.netrc", b"/run/secrets/netrc") == []


def test_netrc_inside_nested_archive_uses_inner_path() -> None:
    pw = fake()
    [m] = scan("app/bundle.tar", f"machine h login u password {pw}\n".encode(), inner_path="home/u/.netrc")
    assert m.rule == "credential-file/netrc" and m.secret == pw


def test_docker_config_auth_is_base64_decoded_to_the_password() -> None:
    pw = fake()
    auth = base64.b64encode(f"robot:{pw}".encode()).decode()
    data = json.dumps({"auths": {"registry.example.com": {"auth": auth}}}).encode()
    [m] = scan("root/.docker/config.json", data)
    assert m.rule == "credential-file/docker-config"
    assert m.secret == pw
    assert data[m.start : m.end] == auth.encode()


def test_docker_config_with_only_a_credential_helper_is_clean() -> None:
    assert scan("root/.docker/config.json", b'{"credsStore": "desktop", "auths": {}}') == []


def test_dotenv_credential_keys_found_and_plain_settings_ignored() -> None:
    key = fake()
    data = f"PATH=/usr/bin\nexport API_KEY='{key}'\nDEBUG=true\nDB_PASSWORD=changeme\n".encode()
    [m] = scan("app/.env", data)
    assert m.rule == "credential-file/dotenv" and m.secret == key
    assert data[m.start : m.end] == key.encode()


@pytest.mark.parametrize("name", [".env.example", ".env.sample", ".env.template"])
def test_env_templates_are_not_sensitive_files(name: str) -> None:
    assert sensitive_format(f"app/{name}") is None
    assert scan(f"app/{name}", f"API_KEY={fake()}\n".encode()) == []


def test_public_ssh_key_is_not_reported() -> None:
    assert sensitive_format("root/.ssh/id_ed25519.pub") is None
    assert (
        scan("root/.ssh/id_ed25519.pub", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + fake(40).encode()) == []
    )


def test_ed25519_private_key_is_found_as_private_key() -> None:
    data = openssh_key()
    [m] = scan("root/.ssh/id_ed25519", data)
    assert m.rule == "credential-file/private-key"
    assert m.severity is None  # the rule's HIGH
    assert data[m.start : m.end].startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert data[m.start : m.end].endswith(b"-----END OPENSSH PRIVATE KEY-----")


def test_passphrase_protected_openssh_key_is_medium() -> None:
    [m] = scan("root/.ssh/id_ed25519", openssh_key(b"aes256-ctr"))
    assert m.rule == "credential-file/private-key" and m.severity == Severity.MEDIUM


def test_private_key_block_anywhere_is_found_inside_other_text() -> None:
    data = b'KEY = """' + pem("RSA PRIVATE KEY") + b'"""\n'
    assert rules(scan("app/settings.py", data)) == ["credential-file/private-key"]


def test_short_private_key_marker_in_code_is_not_a_key() -> None:
    data = b'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    pass\n'
    assert scan("usr/lib/python3/site-packages/x/pem.py", data) == []


def test_library_test_key_is_lowered_to_low_with_a_note() -> None:
    [m] = scan("usr/lib/python3.11/test/keycert.pem", pem())
    assert m.severity == Severity.LOW and m.note


def test_certificate_only_pem_is_not_reported() -> None:
    assert scan("etc/ssl/certs/ca.pem", pem("CERTIFICATE")) == []


def test_non_key_file_at_ssh_private_key_path_is_a_sensitive_file() -> None:
    assert rules(scan("root/.ssh/id_rsa", b"not a key but something\n")) == ["sensitive-file/ssh-private-key"]


def test_service_account_json_private_key_reported_once() -> None:
    key = pem().decode()
    data = json.dumps({"type": "service_account", "project_id": "p", "private_key": key}).encode()
    [m] = scan("app/creds/sa.json", data)
    assert m.rule == "credential-file/service-account"
    assert data[m.start : m.end].startswith(b"-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(
    ("path", "data", "rule"),
    [
        ("root/.npmrc", b"//registry.example.com/:_authToken=npm_{s}\n", "credential-file/npmrc"),
        ("root/.pypirc", b"[pypi]\nusername = __token__\npassword = pypi-{s}\n", "credential-file/pypirc"),
        (
            "etc/pip.conf",
            b"[global]\nindex-url = https://u:{s}@pypi.example.com/simple\n",
            "credential-file/pip-conf",
        ),
        (
            "root/.aws/credentials",
            b"[default]\naws_secret_access_key = {s}\n",
            "credential-file/aws-credentials",
        ),
        ("root/.git-credentials", b"https://bob:{s}@github.com\n", "credential-file/git-credentials"),
        (
            "src/.git/config",
            b'[remote "o"]\n\turl = https://x:{s}@git.example.com/r\n',
            "credential-file/git-config",
        ),
        (
            "src/.git/config",
            b"[http]\n\textraheader = AUTHORIZATION: basic {s}\n",
            "credential-file/git-config",
        ),
        (
            "root/.kube/config",
            b"apiVersion: v1\nusers:\n- name: a\n  user:\n    token: {s}\n",
            "credential-file/kubeconfig",
        ),
        ("root/.pgpass", b"db:5432:*:app:{s}\n", "credential-file/pgpass"),
        ("root/.bash_history", b"ls\nmysql -u root -p{s} app\n", "credential-file/shell-history"),
        ("root/.bash_history", b"curl -u bob:{s} https://x\n", "credential-file/shell-history"),
        ("root/.zsh_history", b": 1:0;export GH_TOKEN={s}\n", "credential-file/shell-history"),
        ("root/.s3cfg", b"[default]\nsecret_key = {s}\n", "credential-file/s3cfg"),
        ("root/.boto", b"[Credentials]\naws_secret_access_key = {s}\n", "credential-file/boto"),
        (
            "infra/terraform.tfstate",
            b'{"resources": [{"db_password": "{s}"}]}',
            "credential-file/terraform-state",
        ),
        ("infra/prod.tfvars", b'db_password = "{s}"\n', "credential-file/terraform-vars"),
        ("root/.vault-token", b"hvs.{s}\n", "credential-file/vault-token"),
        ("app/auth.json", b'{"github-oauth": {"github.com": "{s}"}}', "credential-file/composer-auth"),
        (
            "run/containers/0/auth.json",
            b'{"auths": {"r": {"identitytoken": "{s}"}}}',
            "credential-file/docker-config",
        ),
    ],
)
def test_credential_formats_yield_the_exact_value_span(path: str, data: bytes, rule: str) -> None:
    value = fake()
    blob = data.replace(b"{s}", value.encode())
    found = scan(path, blob)
    assert rule in rules(found)
    m = next(m for m in found if m.rule == rule)
    assert value in blob[m.start : m.end].decode()


def test_htpasswd_hash_is_medium_credential() -> None:
    detector = SensitiveFileDetector()
    [m] = scan("etc/nginx/.htpasswd", b"admin:$apr1$" + fake(8).encode() + b"$" + fake(22).encode() + b"\n")
    rule = next(r for r in detector.rules if r.id == m.rule)
    assert m.rule == "credential-file/htpasswd" and rule.severity == Severity.MEDIUM


def test_history_without_credentials_is_clean() -> None:
    assert scan("root/.bash_history", b"ls -la\nmkdir -p /x\ndocker login --password-stdin\n") == []


def test_aws_documented_example_keys_are_not_reported() -> None:
    data = (
        b"[default]\naws_access_key_id=AKIAIOSFODNN7EXAMPLE\n"
        b"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    assert scan("root/.aws/credentials", data) == []


def _pkcs12(with_key: bool) -> bytes:
    oid_data = bytes.fromhex("06092a864886f70d010701")
    bag = bytes.fromhex("2a864886f70d010c0a0102" if with_key else "2a864886f70d010c0a0103")
    body = (
        b"\x02\x01\x03\x30\x82\x01\x00" + oid_data + secrets.token_bytes(40) + bag + secrets.token_bytes(200)
    )
    return b"\x30\x82" + len(body).to_bytes(2, "big") + body


def test_pkcs12_with_key_bag_is_a_credential_at_any_path() -> None:
    assert rules(scan("opt/app/bundle.bin", _pkcs12(True))) == ["credential-file/pkcs12"]


def test_pkcs12_truststore_with_only_certificates_is_clean() -> None:
    assert scan("opt/java/lib/security/cacerts", _pkcs12(False)) == []


def _jks(tag: int) -> bytes:
    alias = b"mykey"
    entry = tag.to_bytes(4, "big") + len(alias).to_bytes(2, "big") + alias + b"\x00" * 8
    cert = b"\x00\x05X.509" + (100).to_bytes(4, "big") + secrets.token_bytes(100)
    if tag == 1:
        entry += (50).to_bytes(4, "big") + secrets.token_bytes(50) + (1).to_bytes(4, "big") + cert
    else:
        entry += cert
    return (
        b"\xfe\xed\xfe\xed"
        + (2).to_bytes(4, "big")
        + (1).to_bytes(4, "big")
        + entry
        + secrets.token_bytes(20)
    )


def test_jks_with_private_key_entry_is_a_credential() -> None:
    assert rules(scan("app/server.jks", _jks(1))) == ["credential-file/java-keystore"]


def test_jks_truststore_is_clean() -> None:
    assert scan("app/trust.jks", _jks(2)) == []


def test_keepass_database_is_a_sensitive_file() -> None:
    data = bytes.fromhex("03d9a29a67fb4bb5") + secrets.token_bytes(100)
    assert rules(scan("home/u/passwords.kdbx", data)) == ["sensitive-file/keepass"]


def test_whiteout_of_sensitive_path_is_info_evidence() -> None:
    detector = SensitiveFileDetector()
    [m] = detector.scan_member(_Entry("root/.wh..netrc", "whiteout"))
    assert m.rule == "sensitive-file/deleted" and (m.start, m.end, m.secret) == (0, 0, "")
    assert next(r for r in detector.rules if r.id == m.rule).severity == Severity.INFO


def test_whiteout_of_ordinary_file_and_symlinks_are_not_reported() -> None:
    detector = SensitiveFileDetector()
    assert list(detector.scan_member(_Entry("app/.wh.main.py", "whiteout"))) == []
    assert list(detector.scan_member(_Entry("root/.netrc", "symlink", "/nonexistent"))) == []


@pytest.mark.parametrize("seed", range(5))
def test_binary_junk_at_a_credential_path_is_an_unreadable_sensitive_file_not_a_credential(seed: int) -> None:
    junk = random.Random(seed).randbytes(4096)
    unreadable = {
        "root/.netrc": "sensitive-file/netrc",
        "root/.docker/config.json": "sensitive-file/docker-config",
        "root/.kube/config": "sensitive-file/kubeconfig",
        "root/.pgpass": "sensitive-file/pgpass",
        "x/terraform.tfstate": "sensitive-file/terraform-state",
        "root/.ssh/id_rsa": "sensitive-file/ssh-private-key",
        "a/x.p12": "sensitive-file/pkcs12",
        "a/x.jks": "sensitive-file/java-keystore",
    }
    for path, rule in unreadable.items():
        assert [(m.rule, m.start, m.end) for m in scan(path, junk)] == [(rule, 0, 0)], path
    # Formats read as free text (any line may hold a credential) find none in junk, and say nothing.
    for path in ("a/.env", "root/.bash_history"):
        assert scan(path, junk) == [], path


def test_every_rule_has_family_name_id_and_one_line_remediation() -> None:
    for rule in SensitiveFileDetector().rules:
        assert rule.id == rule.id.lower() and rule.id.count("/") == 1
        assert rule.remediation and "\n" not in rule.remediation
