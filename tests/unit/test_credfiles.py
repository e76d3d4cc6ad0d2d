"""Credential-file parsers: exact spans, format edge cases, never raising on junk."""

from __future__ import annotations

import base64
import json
import secrets

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detectors.credfiles import PARSERS, parse
from scanner.detectors.credtext import command_line_credentials, json_strings


def values(fmt: str, text: str) -> list[str]:
    return [text[c.start : c.end] for c in parse(fmt, text).credentials]


def test_netrc_tokens_on_one_line_and_comments_and_macdef() -> None:
    pw = secrets.token_hex(8)
    text = (
        f"# password notthis\nmachine a login b password {pw}\n"
        "macdef init\npassword inmacro\n\ndefault login x\n"
    )
    assert values("netrc", text) == [pw]
    assert parse("netrc", text).understood


def test_netrc_quoted_password_span_excludes_quotes() -> None:
    assert values("netrc", 'machine a login b password "p w"\n') == ["p w"]


def test_npmrc_auth_variants() -> None:
    t1, t2 = secrets.token_hex(8), secrets.token_hex(8)
    text = f"//r.example.com/:_authToken={t1}\n//r2/:_password={t2}\nregistry=https://r.example.com/\n"
    assert values("npmrc", text) == [t1, t2]


def test_pgpass_password_may_contain_escaped_colon() -> None:
    assert values("pgpass", "h:5432:db:u:pa\\:ss\n") == ["pa\\:ss"]


def test_git_config_extraheader_bearer() -> None:
    tok = secrets.token_hex(12)
    assert values("git-config", f'[http "https://x/"]\n\textraheader = "Authorization: Bearer {tok}"\n') == [
        tok
    ]


def test_kubeconfig_client_key_data_and_password() -> None:
    a, b = secrets.token_hex(10), secrets.token_hex(10)
    text = (
        "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n"
        f"    client-key-data: {a}\n    password: '{b}'\n"
    )
    assert values("kubeconfig", text) == [a, b]


def test_docker_config_decoded_password_without_colon_falls_back_to_whole() -> None:
    raw = base64.b64encode(b"justatoken").decode()
    [cred] = parse("docker-config", json.dumps({"auths": {"r": {"auth": raw}}})).credentials
    assert cred.value == "justatoken"


def test_json_walker_paths_and_spans_match_the_text() -> None:
    text = json.dumps({"a": {"b": ["x", {"c": "y\\n"}]}, "d": 1, "e": None})
    strings, complete = json_strings(text)
    assert complete
    assert [(s.path, s.value) for s in strings] == [(("a", "b", "0"), "x"), (("a", "b", "1", "c"), "y\\n")]
    for s in strings:
        assert text[s.start : s.end] == s.raw


def test_json_walker_reports_incomplete_json() -> None:
    strings, complete = json_strings('{"a": "b", "c": ')
    assert not complete and [s.value for s in strings] == ["b"]


def test_command_line_credentials_cover_common_shapes() -> None:
    p = [secrets.token_hex(6) for _ in range(6)]
    line = (
        f"mysql -uroot -p{p[0]} db; curl -u bob:{p[1]} https://x; TOKEN={p[2]} ./run; "
        f"app --api-key {p[3]}; sshpass -p {p[4]} ssh h; curl -H 'Authorization: Bearer {p[5]}'"
    )
    assert sorted(c.value for c in command_line_credentials(line)) == sorted(p)


def test_command_line_ignores_expansions_and_non_credential_flags() -> None:
    line = "mkdir -p /x && TOKEN=$(cat /run/secrets/t) ./x --password-stdin --token-file /t -p 80:80"
    assert command_line_credentials(line) == []


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_no_parser_raises_on_arbitrary_text(text: str) -> None:
    for fmt in PARSERS:
        result = parse(fmt, text)
        for cred in result.credentials:
            assert 0 <= cred.start <= cred.end <= len(text)
