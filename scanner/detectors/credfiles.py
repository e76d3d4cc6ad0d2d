"""One small, never-raising parser per credential-file format: text in, credential values and spans out."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scanner.detectors.filters import is_credential_name


@dataclass(frozen=True)
class Credential:
    """A credential value found in a file: start/end are character offsets of the value in the parsed text."""

    start: int
    end: int
    value: str  # what is reported as the secret (e.g. the password decoded out of a docker `auth`)
    field: str  # where in the format, e.g. "password", "auths.registry.example.com.auth"


@dataclass(frozen=True)
class Parsed:
    """What a parser made of a file. `understood` False means the text did not have the format's shape."""

    credentials: tuple[Credential, ...]
    understood: bool


Parser = Callable[[str], Parsed]


# --- shared pieces -------------------------------------------------------------------------------


def _unquote(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span by one pair of matching surrounding quotes."""
    if end - start >= 2 and text[start] == text[end - 1] and text[start] in "'\"":
        return start + 1, end - 1
    return start, end


def _cred(text: str, start: int, end: int, field: str) -> Credential:
    start, end = _unquote(text, start, end)
    return Credential(start, end, text[start:end], field)


# `key = value` lines. The separator set is per format: npmrc keys contain ":" (`//host/:_authToken=`).
_KV_EQ = re.compile(r"^[ \t]*(?:export[ \t]+)?([^\s=#;\[][^=\n]*?)[ \t]*=[ \t]*(.*?)[ \t]*\r?$", re.M)
_KV_EQ_COLON = re.compile(r"^[ \t]*([^\s=:#;\[][^=:\n]*?)[ \t]*[=:][ \t]*(.*?)[ \t]*\r?$", re.M)
_KV_YAML = re.compile(r"^[ \t]*(?:-[ \t]+)?([\"']?[\w.:/@-]+[\"']?)[ \t]*:[ \t]+(.*?)[ \t]*\r?$", re.M)
_SECTION = re.compile(r"^[ \t]*\[[^\]\n]+\][ \t]*\r?$", re.M)
_INLINE_COMMENT = re.compile(r"[ \t]+[#;].*$")


def _kv_pairs(text: str, regex: re.Pattern[str], strip_comments: bool) -> Iterator[tuple[str, int, int]]:
    """(key, value start, value end) for every assignment line."""
    for m in regex.finditer(text):
        key = m.group(1).strip().strip("'\"")
        start, end = m.start(2), m.end(2)
        value = text[start:end]
        if strip_comments and value[:1] not in "'\"":
            c = _INLINE_COMMENT.search(value)
            if c:
                end = start + c.start()
        if end > start:
            yield key, start, end


def _kv_parser(regex: re.Pattern[str], wanted: Callable[[str], bool], strip_comments: bool = True) -> Parser:
    def parse(text: str) -> Parsed:
        creds: list[Credential] = []
        understood = bool(_SECTION.search(text))
        for key, start, end in _kv_pairs(text, regex, strip_comments):
            understood = True
            if wanted(key):
                creds.append(_cred(text, start, end, key))
        return Parsed(tuple(creds), understood)

    return parse


def _keys(*names: str) -> Callable[[str], bool]:
    wanted = {n.lower() for n in names}
    return lambda key: key.lower() in wanted


# scheme://user:password@host inside any text. The user may be a token, with an x-oauth-basic password.
_URL_CREDENTIALS = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://([^\s/:@'\"<>{}]+):([^\s/@'\"<>]+)@[^\s/@'\"]"
)
_TOKEN_AS_USER_PASSWORDS = {"x-oauth-basic", "x-oauth-token", "x"}


def url_credentials(text: str) -> Iterator[Credential]:
    """Passwords (or tokens used as the user name) in URLs with userinfo."""
    for m in _URL_CREDENTIALS.finditer(text):
        if m.group(2).lower() in _TOKEN_AS_USER_PASSWORDS:
            yield Credential(m.start(1), m.end(1), m.group(1), "url-user")
        else:
            yield Credential(m.start(2), m.end(2), m.group(2), "url-password")


# --- command lines (shell histories; the metadata detector uses it on Cmd/RUN too) ------------------------

_VALUE = r"('[^'\n]*'|\"[^\"\n]*\"|[^\s'\";|&<>()]+)"
_OPTION_VALUE = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)(?:=|[ \t]+)" + _VALUE)
_ASSIGNMENT = re.compile(r"(?<![\w$.-])([A-Za-z_][A-Za-z0-9_]*)=" + _VALUE)
_MYSQL_P = re.compile(
    r"\b(?:mysql|mariadb|mysqldump|mysqladmin)\b[^\n;|&]*?[ \t]-p([^\s'\";|&]+|'[^'\n]*'|\"[^\"\n]*\")"
)
_LOGIN_P = re.compile(r"\b(?:sshpass|login)\b[^\n;|&]*?[ \t]-p[ \t]+" + _VALUE)
_CURL_USER = re.compile(r"(?<![\w-])(?:-u|--user|--proxy-user)(?:[ \t]+|=)(['\"]?)[^\s:'\"]+:([^\s'\"]+)\1")
_AUTH_HEADER = re.compile(r"(?i)\bauthorization:[ \t]*(?:basic|bearer|token)[ \t]+([A-Za-z0-9._~+/=-]{8,})")
_CRED_HEADER = re.compile(r"(?i)(?<![\w-])([A-Za-z][\w-]*):[ \t]*([A-Za-z0-9._~+/=-]{8,})")


def command_line_credentials(text: str) -> list[Credential]:
    """Credentials on a command line: --password X, NAME_TOKEN=X, mysql -pX, curl -u u:p, headers, URLs."""
    found: list[Credential] = []
    for m in _OPTION_VALUE.finditer(text):
        if is_credential_name(m.group(1)):
            found.append(_cred(text, m.start(2), m.end(2), "--" + m.group(1)))
    for m in _ASSIGNMENT.finditer(text):
        if is_credential_name(m.group(1)):
            found.append(_cred(text, m.start(2), m.end(2), m.group(1)))
    for regex, field in ((_MYSQL_P, "-p"), (_LOGIN_P, "-p")):
        for m in regex.finditer(text):
            found.append(_cred(text, m.start(1), m.end(1), field))
    for m in _CURL_USER.finditer(text):
        found.append(Credential(m.start(2), m.end(2), m.group(2), "--user"))
    for m in _AUTH_HEADER.finditer(text):
        found.append(Credential(m.start(1), m.end(1), m.group(1), "Authorization"))
    for m in _CRED_HEADER.finditer(text):
        if is_credential_name(m.group(1)) and m.group(1).lower() != "authorization":
            found.append(Credential(m.start(2), m.end(2), m.group(2), m.group(1)))
    found.extend(url_credentials(text))
    # A shell expands $VAR, $(cmd) and `cmd` before the program sees them: the secret is not on the line.
    return _dedupe([c for c in found if not c.value.startswith(("$", "`"))])


def _dedupe(creds: list[Credential]) -> list[Credential]:
    """Keep the first of credentials with overlapping spans (two rules seeing the same value)."""
    kept: list[Credential] = []
    for c in sorted(creds, key=lambda c: (c.start, -(c.end - c.start))):
        if c.end > c.start and not any(c.start < k.end and k.start < c.end for k in kept):
            kept.append(c)
    return kept


# --- a position-keeping JSON string walker --------------------------------------------------------

_JSON_TOKEN = re.compile(r'\s*(?:"((?:[^"\\\n]|\\.)*)"|([{}\[\],:])|(-?[0-9][0-9.eE+-]*|true|false|null))')


@dataclass(frozen=True)
class JsonString:
    """One string value of a JSON text with its key path and the span of its raw (escaped) characters."""

    path: tuple[str, ...]
    raw: str
    start: int
    end: int

    @property
    def value(self) -> str:
        try:
            decoded = json.loads('"' + self.raw + '"')
        except ValueError:
            return self.raw
        return decoded if isinstance(decoded, str) else self.raw


def json_strings(text: str) -> tuple[list[JsonString], bool]:
    """Every string VALUE in a JSON text with its path; the bool says the whole text was well-formed JSON.

    Tolerant: on a syntax error it stops and returns what it saw so far.
    """
    out: list[JsonString] = []
    # Each frame: [is_object, current key or index, expecting a key]
    stack: list[list[object]] = []
    pos = 0
    n = len(text)
    seen_any = False
    while pos < n:
        m = _JSON_TOKEN.match(text, pos)
        if not m:
            return out, text[pos:].strip() == "" and seen_any and not stack
        pos = m.end()
        seen_any = True
        string, punct = m.group(1), m.group(2)
        frame = stack[-1] if stack else None
        if punct in ("{", "["):
            stack.append([punct == "{", 0 if punct == "[" else "", punct == "{"])
        elif punct in ("}", "]"):
            if not stack:
                return out, False
            stack.pop()
            _advance(stack)
        elif punct == ":":
            if frame is not None:
                frame[2] = False
        elif punct == ",":
            if frame is not None and frame[0]:
                frame[2] = True
        elif string is not None and frame is not None and frame[0] and frame[2]:
            frame[1] = string
        else:
            if string is not None:
                path = tuple(str(f[1]) for f in stack)
                out.append(JsonString(path, string, m.start(1), m.end(1)))
            _advance(stack)
    return out, seen_any and not stack


def _advance(stack: list[list[object]]) -> None:
    """After a value inside an array, move to the next index."""
    if stack and not stack[-1][0]:
        index = stack[-1][1]
        stack[-1][1] = index + 1 if isinstance(index, int) else 0


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


def parse_netrc(text: str) -> Parsed:
    creds: list[Credential] = []
    understood = False
    expect_password = False
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
            if expect_password:
                creds.append(_cred(text, base + m.start(), base + m.end(), "password"))
                expect_password = False
            elif token in ("machine", "default"):
                understood = True
            elif token in ("password", "passwd"):
                expect_password = True
            elif token == "macdef":
                in_macdef = True
                break
    return Parsed(tuple(creds), understood)


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
    return Parsed(tuple(_dedupe(creds)), True)


_GIT_EXTRAHEADER = re.compile(
    r"(?im)^[ \t]*extraheader[ \t]*=[ \t]*\"?[ \t]*[\w-]+:[ \t]*"
    r"(?:basic|bearer|token)[ \t]+([A-Za-z0-9._~+/=-]+)"
)


def parse_url_lines(text: str) -> Parsed:
    """.git-credentials and pip.conf: credentials live in URLs."""
    return Parsed(tuple(url_credentials(text)), "://" in text or bool(_SECTION.search(text)))


def parse_dotenv(text: str) -> Parsed:
    creds: list[Credential] = []
    for key, start, end in _kv_pairs(text, _KV_EQ, strip_comments=True):
        if is_credential_name(key.rsplit(" ", 1)[-1]):
            creds.append(_cred(text, start, end, key))
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
    for key, start, end in _kv_pairs(text, _KV_YAML, strip_comments=True):
        if key in _KUBE_KEYS:
            creds.append(_cred(text, start, end, key))
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
    return _kv_parser(_KV_EQ, is_credential_name)(text)


PARSERS: dict[str, Parser] = {
    "netrc": parse_netrc,
    "npmrc": _kv_parser(_KV_EQ, lambda k: k.rsplit(":", 1)[-1] in ("_authToken", "_auth", "_password")),
    "pypirc": _kv_parser(_KV_EQ_COLON, _keys("password")),
    "pip-conf": parse_url_lines,
    "docker-config": parse_docker_config,
    "aws-credentials": _kv_parser(
        _KV_EQ_COLON, _keys("aws_secret_access_key", "aws_session_token", "aws_security_token")
    ),
    "git-credentials": parse_url_lines,
    "git-config": parse_git_config,
    "dotenv": parse_dotenv,
    "kubeconfig": parse_kubeconfig,
    "service-account": parse_service_account,
    "pgpass": parse_pgpass,
    "htpasswd": parse_htpasswd,
    "shell-history": parse_history,
    "s3cfg": _kv_parser(
        _KV_EQ_COLON, _keys("secret_key", "access_token", "gpg_passphrase", "proxy_password")
    ),
    "boto": _kv_parser(
        _KV_EQ_COLON,
        _keys("aws_secret_access_key", "gs_secret_access_key", "gs_oauth2_refresh_token", "password"),
    ),
    "terraform-state": _json_parser(_tf_wanted),
    "terraform-vars": parse_tfvars,
    "vault-token": parse_vault_token,
    "composer-auth": _json_parser(_composer_wanted),
    "cargo-credentials": _kv_parser(_KV_EQ, _keys("token")),
    "gem-credentials": _kv_parser(_KV_YAML, lambda k: k.lstrip(":").endswith("api_key")),
    "gh-hosts": _kv_parser(_KV_YAML, _keys("oauth_token")),
    "yarnrc": _kv_parser(_KV_YAML, _keys("npmAuthToken", "npmAuthIdent", "npmPassword")),
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
