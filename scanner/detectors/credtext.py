"""Credential text shapes the parsers share: key = value lines, URLs, command lines, JSON strings."""

from __future__ import annotations

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


def cred(text: str, start: int, end: int, field: str) -> Credential:
    start, end = _unquote(text, start, end)
    return Credential(start, end, text[start:end], field)


# `key = value` lines. The separator set is per format: npmrc keys contain ":" (`//host/:_authToken=`).
KV_EQ = re.compile(r"^[ \t]*(?:export[ \t]+)?([^\s=#;\[][^=\n]*?)[ \t]*=[ \t]*(.*?)[ \t]*\r?$", re.M)
KV_EQ_COLON = re.compile(r"^[ \t]*([^\s=:#;\[][^=:\n]*?)[ \t]*[=:][ \t]*(.*?)[ \t]*\r?$", re.M)
KV_YAML = re.compile(r"^[ \t]*(?:-[ \t]+)?([\"']?[\w.:/@-]+[\"']?)[ \t]*:[ \t]+(.*?)[ \t]*\r?$", re.M)
SECTION = re.compile(r"^[ \t]*\[[^\]\n]+\][ \t]*\r?$", re.M)
_INLINE_COMMENT = re.compile(r"[ \t]+[#;].*$")


def kv_pairs(text: str, regex: re.Pattern[str], strip_comments: bool) -> Iterator[tuple[str, int, int]]:
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


def kv_parser(regex: re.Pattern[str], wanted: Callable[[str], bool], strip_comments: bool = True) -> Parser:
    def parse(text: str) -> Parsed:
        creds: list[Credential] = []
        understood = bool(SECTION.search(text))
        for key, start, end in kv_pairs(text, regex, strip_comments):
            understood = True
            if wanted(key):
                creds.append(cred(text, start, end, key))
        return Parsed(tuple(creds), understood)

    return parse


def keys(*names: str) -> Callable[[str], bool]:
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
            found.append(cred(text, m.start(2), m.end(2), "--" + m.group(1)))
    for m in _ASSIGNMENT.finditer(text):
        if is_credential_name(m.group(1)):
            found.append(cred(text, m.start(2), m.end(2), m.group(1)))
    for regex, field in ((_MYSQL_P, "-p"), (_LOGIN_P, "-p")):
        for m in regex.finditer(text):
            found.append(cred(text, m.start(1), m.end(1), field))
    for m in _CURL_USER.finditer(text):
        found.append(Credential(m.start(2), m.end(2), m.group(2), "--user"))
    for m in _AUTH_HEADER.finditer(text):
        found.append(Credential(m.start(1), m.end(1), m.group(1), "Authorization"))
    for m in _CRED_HEADER.finditer(text):
        if is_credential_name(m.group(1)) and m.group(1).lower() != "authorization":
            found.append(Credential(m.start(2), m.end(2), m.group(2), m.group(1)))
    found.extend(url_credentials(text))
    # A shell expands $VAR, $(cmd) and `cmd` before the program sees them: the secret is not on the line.
    return dedupe([c for c in found if not c.value.startswith(("$", "`"))])


def dedupe(creds: list[Credential]) -> list[Credential]:
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
