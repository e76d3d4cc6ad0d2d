"""One small, never-raising parser per credential-file format: text in, credential values and spans out."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scanner.detectors.credtext import (
    KV_EQ,
    KV_EQ_COLON,
    KV_YAML,
    SECTION,
    Credential,
    Parsed,
    Parser,
    command_line_credentials,
    cred,
    dedupe,
    json_strings,
    keys,
    kv_pairs,
    kv_parser,
    url_credentials,
)
from scanner.detectors.filters import is_credential_name


def _json_parser(
    wanted: Callable[[tuple[str, ...]], bool], require: Callable[[str], bool] | None = None
) -> Parser:
    def parse(text: str) -> Parsed:
        strings, complete = json_strings(text)
        if require is not None and not require(text):
            return Parsed((), complete)
        creds = [Credential(s.start, s.end, s.value, ".".join(s.path)) for s in strings if wanted(s.path)]
        return Parsed(tuple(creds), complete)

    return parse


# --- the formats ---------------------------------------------------------------------------------

_NETRC_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[^\s"]+')


@dataclass(frozen=True)
class NetrcEntry:
    """One `password` of a netrc, with the `login` of its machine entry when it has one."""

    login: str | None
    password: Credential


def netrc_entries(text: str) -> tuple[list[NetrcEntry], bool]:
    """Every password with its login (quotes, `passwd`, comments and `macdef` bodies as netrc reads them);
    the bool says the text had netrc's shape."""
    entries: list[NetrcEntry] = []
    understood = False
    expect: str | None = None  # the keyword whose value comes next
    login: str | None = None
    in_macdef = False
    for line_match in re.finditer(r"[^\n]*\n?", text):
        line = line_match.group(0)
        base = line_match.start()
        if in_macdef:
            in_macdef = line.strip() != ""
            continue
        if line.lstrip().startswith("#"):
            continue
        for m in _NETRC_TOKEN.finditer(line):
            token = m.group(0)
            if expect == "password":
                entries.append(NetrcEntry(login, cred(text, base + m.start(), base + m.end(), "password")))
                expect = None
            elif expect == "login":
                login = cred(text, base + m.start(), base + m.end(), "login").value
                expect = None
            elif token in ("machine", "default"):
                understood = True
                login = None
            elif token in ("password", "passwd"):
                expect = "password"
            elif token == "login":
                expect = "login"
            elif token == "macdef":
                in_macdef = True
                break
    return entries, understood


def parse_netrc(text: str) -> Parsed:
    entries, understood = netrc_entries(text)
    return Parsed(tuple(e.password for e in entries), understood)


def parse_docker_config(text: str) -> Parsed:
    """auths.<registry>.auth is base64 user:password (the password is the secret); identity tokens."""
    strings, complete = json_strings(text)
    creds: list[Credential] = []
    for s in strings:
        last = s.path[-1].lower() if s.path else ""
        if last == "auth":
            creds.append(Credential(s.start, s.end, _docker_auth_password(s.value), ".".join(s.path)))
        elif last in ("identitytoken", "registrytoken", "password"):
            creds.append(Credential(s.start, s.end, s.value, ".".join(s.path)))
    return Parsed(tuple(creds), complete)


def _docker_auth_password(value: str) -> str:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return value
    _user, sep, password = decoded.partition(":")
    return password if sep else decoded


def parse_git_config(text: str) -> Parsed:
    creds = list(url_credentials(text))
    for m in _GIT_EXTRAHEADER.finditer(text):
        creds.append(Credential(m.start(1), m.end(1), m.group(1), "http.extraheader"))
    return Parsed(tuple(dedupe(creds)), True)


_GIT_EXTRAHEADER = re.compile(
    r"(?im)^[ \t]*extraheader[ \t]*=[ \t]*\"?[ \t]*[\w-]+:[ \t]*"
    r"(?:basic|bearer|token)[ \t]+([A-Za-z0-9._~+/=-]+)"
)


def parse_url_lines(text: str) -> Parsed:
    """.git-credentials and pip.conf: credentials live in URLs."""
    return Parsed(tuple(url_credentials(text)), "://" in text or bool(SECTION.search(text)))


def parse_dotenv(text: str) -> Parsed:
    creds: list[Credential] = []
    for key, start, end in kv_pairs(text, KV_EQ, strip_comments=True):
        if is_credential_name(key.rsplit(" ", 1)[-1]):
            creds.append(cred(text, start, end, key))
        else:
            creds.extend(_shift(url_credentials(text[start:end]), start))
    return Parsed(tuple(creds), True)


def _shift(creds: Iterator[Credential], by: int) -> list[Credential]:
    return [Credential(c.start + by, c.end + by, c.value, c.field) for c in creds]


_KUBE_KEYS = {
    "token",
    "client-key-data",
    "password",
    "access-token",
    "refresh-token",
    "client-secret",
    "id-token",
}


def parse_kubeconfig(text: str) -> Parsed:
    if text.lstrip().startswith("{"):
        strings, complete = json_strings(text)
        creds = [
            Credential(s.start, s.end, s.value, ".".join(s.path))
            for s in strings
            if s.path and s.path[-1] in _KUBE_KEYS
        ]
        return Parsed(tuple(creds), complete)
    creds = []
    for key, start, end in kv_pairs(text, KV_YAML, strip_comments=True):
        if key in _KUBE_KEYS:
            creds.append(cred(text, start, end, key))
    understood = bool(re.search(r"(?m)^(clusters|users|contexts|apiVersion|kind)\s*:", text))
    return Parsed(tuple(creds), understood)


def parse_service_account(text: str) -> Parsed:
    strings, complete = json_strings(text)
    is_sa = any(s.path == ("type",) and s.value == "service_account" for s in strings)
    creds = [
        Credential(s.start, s.end, s.value, "private_key")
        for s in strings
        if is_sa and s.path == ("private_key",)
    ]
    return Parsed(tuple(creds), complete)


def parse_pgpass(text: str) -> Parsed:
    creds: list[Credential] = []
    understood = False
    for m in re.finditer(r"(?m)^(?!#)((?:[^:\\\n]|\\.)*:){4}((?:[^\\\n\r]|\\.)+)", text):
        understood = True
        creds.append(Credential(m.start(2), m.end(2), m.group(2), "password"))
    return Parsed(tuple(creds), understood)


def parse_htpasswd(text: str) -> Parsed:
    creds = [
        Credential(m.start(2), m.end(2), m.group(2), "hash")
        for m in re.finditer(r"(?m)^([^:#\s][^:\n]*):([^\s:]{2,})", text)
    ]
    return Parsed(tuple(creds), bool(creds))


def parse_history(text: str) -> Parsed:
    return Parsed(tuple(command_line_credentials(text)), True)


def parse_vault_token(text: str) -> Parsed:
    m = re.fullmatch(r"\s*(\S{8,})\s*", text)
    return Parsed((Credential(m.start(1), m.end(1), m.group(1), "token"),) if m else (), bool(m))


_COMPOSER_SECTIONS = {
    "http-basic",
    "github-oauth",
    "gitlab-oauth",
    "gitlab-token",
    "bitbucket-oauth",
    "bearer",
    "forgejo-token",
}


def _composer_wanted(path: tuple[str, ...]) -> bool:
    return len(path) >= 2 and path[0] in _COMPOSER_SECTIONS and path[-1] not in ("username", "consumer-key")


def _tf_wanted(path: tuple[str, ...]) -> bool:
    return bool(path) and is_credential_name(path[-1])


def parse_tfvars(text: str) -> Parsed:
    if text.lstrip().startswith("{"):
        return _json_parser(_tf_wanted)(text)
    return kv_parser(KV_EQ, is_credential_name)(text)


PARSERS: dict[str, Parser] = {
    "netrc": parse_netrc,
    "npmrc": kv_parser(KV_EQ, lambda k: k.rsplit(":", 1)[-1] in ("_authToken", "_auth", "_password")),
    "pypirc": kv_parser(KV_EQ_COLON, keys("password")),
    "pip-conf": parse_url_lines,
    "docker-config": parse_docker_config,
    "aws-credentials": kv_parser(
        KV_EQ_COLON, keys("aws_secret_access_key", "aws_session_token", "aws_security_token")
    ),
    "git-credentials": parse_url_lines,
    "git-config": parse_git_config,
    "dotenv": parse_dotenv,
    "kubeconfig": parse_kubeconfig,
    "service-account": parse_service_account,
    "pgpass": parse_pgpass,
    "htpasswd": parse_htpasswd,
    "shell-history": parse_history,
    "s3cfg": kv_parser(KV_EQ_COLON, keys("secret_key", "access_token", "gpg_passphrase", "proxy_password")),
    "boto": kv_parser(
        KV_EQ_COLON,
        keys("aws_secret_access_key", "gs_secret_access_key", "gs_oauth2_refresh_token", "password"),
    ),
    "terraform-state": _json_parser(_tf_wanted),
    "terraform-vars": parse_tfvars,
    "vault-token": parse_vault_token,
    "composer-auth": _json_parser(_composer_wanted),
    "cargo-credentials": kv_parser(KV_EQ, keys("token")),
    "gem-credentials": kv_parser(KV_YAML, lambda k: k.lstrip(":").endswith("api_key")),
    "gh-hosts": kv_parser(KV_YAML, keys("oauth_token")),
    "yarnrc": kv_parser(KV_YAML, keys("npmAuthToken", "npmAuthIdent", "npmPassword")),
    "terraform-credentials": _json_parser(lambda p: bool(p) and p[-1] == "token"),
}


def parse(fmt: str, text: str) -> Parsed:
    """Run the format's parser; junk input gives an empty, not-understood result instead of an exception."""
    parser = PARSERS.get(fmt)
    if parser is None:
        return Parsed((), False)
    try:
        return parser(text)
    except (ValueError, IndexError, RecursionError):
        return Parsed((), False)
