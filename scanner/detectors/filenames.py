"""Sensitive files by path and content sniff: credential files, private keys, keystores, whiteouts."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from scanner.detectors import credfiles, filters
from scanner.detectors.base import Content, RawMatch, Rule
from scanner.detectors.filters import is_documented_example, is_placeholder, is_secret_reference
from scanner.findings import Severity


@dataclass(frozen=True)
class FileFormat:
    """How to talk about one kind of sensitive file in a finding."""

    label: str  # "a .netrc file"
    remediation: str


def _mount(secret_id: str, src: str, target: str) -> str:
    return (
        f"Pass it with `docker build --secret id={secret_id},src={src}` and read it in "
        f"`RUN --mount=type=secret,id={secret_id},target={target}`; rotate the leaked credential."
    )


_RUNTIME = "Provide it at run time (volume or orchestrator secret) instead of baking it into the image; "

FORMATS: dict[str, FileFormat] = {
    "netrc": FileFormat("a .netrc file", _mount("netrc", "./netrc", "/root/.netrc")),
    "npmrc": FileFormat("an .npmrc file", _mount("npmrc", "./.npmrc", "/root/.npmrc")),
    "pypirc": FileFormat("a .pypirc file", _mount("pypirc", "./.pypirc", "/root/.pypirc")),
    "pip-conf": FileFormat("a pip configuration file", _mount("pipconf", "./pip.conf", "/etc/pip.conf")),
    "docker-config": FileFormat(
        "a Docker/containers registry auth file",
        _mount("dockerconfig", "./config.json", "/root/.docker/config.json"),
    ),
    "aws-credentials": FileFormat(
        "an AWS credentials/config file", _mount("aws", "./credentials", "/root/.aws/credentials")
    ),
    "git-credentials": FileFormat(
        "a git credential store", _mount("gitcreds", "./.git-credentials", "/root/.git-credentials")
    ),
    "git-config": FileFormat(
        "a git config file",
        "Keep .git out of the image (.dockerignore) and pass tokens with `docker build --secret`; "
        "rotate the leaked credential.",
    ),
    "dotenv": FileFormat(
        "an .env file",
        "Add .env files to .dockerignore and pass values at run time or with "
        "`RUN --mount=type=secret,id=env,target=/app/.env`; rotate the leaked credential.",
    ),
    "kubeconfig": FileFormat("a kubeconfig", _mount("kubeconfig", "./kubeconfig", "/root/.kube/config")),
    "service-account": FileFormat(
        "a cloud service-account key", _mount("sa", "./sa.json", "/run/secrets/sa.json")
    ),
    "pgpass": FileFormat("a .pgpass file", _mount("pgpass", "./.pgpass", "/root/.pgpass")),
    "htpasswd": FileFormat(
        "an .htpasswd file",
        _RUNTIME + "change the passwords if the image was shared (hashes can be cracked).",
    ),
    "shell-history": FileFormat(
        "a shell history file",
        "Remove the history in the same RUN step that wrote it (or never commit an interactive shell's "
        "container as an image); rotate the credentials it shows.",
    ),
    "s3cfg": FileFormat("an s3cmd .s3cfg file", _mount("s3cfg", "./.s3cfg", "/root/.s3cfg")),
    "boto": FileFormat("a boto configuration file", _mount("boto", "./.boto", "/root/.boto")),
    "terraform-state": FileFormat(
        "a Terraform state file",
        "Keep state in a remote backend and out of the image; rotate the secrets it holds.",
    ),
    "terraform-vars": FileFormat(
        "a Terraform variables file",
        "Pass sensitive variables as TF_VAR_* at run time; rotate the leaked credential.",
    ),
    "vault-token": FileFormat("a Vault token file", _mount("vault", "./.vault-token", "/root/.vault-token")),
    "composer-auth": FileFormat(
        "a Composer auth.json", _mount("composer", "./auth.json", "/root/.composer/auth.json")
    ),
    "cargo-credentials": FileFormat(
        "a Cargo credentials file", _mount("cargo", "./credentials.toml", "/root/.cargo/credentials.toml")
    ),
    "gem-credentials": FileFormat(
        "a RubyGems credentials file", _mount("gem", "./credentials", "/root/.gem/credentials")
    ),
    "gh-hosts": FileFormat(
        "a GitHub CLI hosts.yml", _mount("gh", "./hosts.yml", "/root/.config/gh/hosts.yml")
    ),
    "yarnrc": FileFormat("a .yarnrc.yml", _mount("yarnrc", "./.yarnrc.yml", "/app/.yarnrc.yml")),
    "terraform-credentials": FileFormat(
        "a Terraform CLI credentials file",
        _mount("tfcreds", "./credentials.tfrc.json", "/root/.terraform.d/credentials.tfrc.json"),
    ),
    "ssh-private-key": FileFormat(
        "an SSH private key file",
        "Use `docker build --ssh default` with `RUN --mount=type=ssh` instead of copying keys; "
        "rotate the key.",
    ),
    "private-key": FileFormat(
        "a private key",
        "Never COPY keys into an image: mount them with `RUN --mount=type=secret` (or `--mount=type=ssh`) "
        "or provide them at run time; rotate the key.",
    ),
    "pkcs12": FileFormat("a PKCS#12 keystore", _RUNTIME + "rotate the keys it holds."),
    "java-keystore": FileFormat("a Java keystore (JKS/JCEKS)", _RUNTIME + "rotate the keys it holds."),
    "keepass": FileFormat(
        "a KeePass database", _RUNTIME + "change its master password and the passwords in it."
    ),
}

# Formats whose parser reads any text: an empty result means "no credential", never "could not read it".
_ALWAYS_UNDERSTOOD = {"git-config", "dotenv", "shell-history", "pip-conf"}
_BINARY_FORMATS = ("pkcs12", "java-keystore", "keepass")
_MEDIUM_CREDENTIALS = {"htpasswd"}  # hashes, not usable credentials as they stand


def _build_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for fmt, spec in FORMATS.items():
        if fmt in credfiles.PARSERS or fmt in ("private-key", "pkcs12", "java-keystore"):
            severity = Severity.MEDIUM if fmt in _MEDIUM_CREDENTIALS else Severity.HIGH
            rules.append(
                Rule(
                    f"credential-file/{fmt}",
                    "credential",
                    severity,
                    f"Credential in {spec.label}",
                    f"The image contains {spec.label} holding a credential value (not a placeholder). "
                    "Anyone who can pull the image can read it, even if a later layer deletes the file.",
                    spec.remediation,
                )
            )
        if fmt != "private-key" and fmt not in _ALWAYS_UNDERSTOOD:
            rules.append(
                Rule(
                    f"sensitive-file/{fmt}",
                    "sensitive-file",
                    Severity.MEDIUM,
                    f"Sensitive file: {spec.label}",
                    f"The image contains {spec.label} that is not empty but whose credential could not be "
                    "read out (unparsed, encrypted or binary). Check what it holds.",
                    spec.remediation,
                )
            )
    rules.append(
        Rule(
            "sensitive-file/deleted",
            "sensitive-file",
            Severity.INFO,
            "Sensitive file deleted by a whiteout",
            "A sensitive file was deleted here; its bytes may remain in an earlier layer, where the other "
            "rules report them if they hold a credential.",
            "Deleting a file in a later layer does not remove it from the image: use "
            "`RUN --mount=type=secret` so it never lands, and rotate the credential.",
        )
    )
    return tuple(rules)


# --- which paths are sensitive ----------------------------------------------------------------------

_BY_NAME = {
    ".netrc": "netrc",
    "_netrc": "netrc",
    ".npmrc": "npmrc",
    "npmrc": "npmrc",
    ".pypirc": "pypirc",
    "pip.conf": "pip-conf",
    "pip.ini": "pip-conf",
    ".git-credentials": "git-credentials",
    ".gitconfig": "git-config",
    ".pgpass": "pgpass",
    ".htpasswd": "htpasswd",
    "htpasswd": "htpasswd",
    ".bash_history": "shell-history",
    ".zsh_history": "shell-history",
    ".ash_history": "shell-history",
    ".sh_history": "shell-history",
    ".history": "shell-history",
    ".python_history": "shell-history",
    ".psql_history": "shell-history",
    ".mysql_history": "shell-history",
    ".node_repl_history": "shell-history",
    ".s3cfg": "s3cfg",
    ".boto": "boto",
    "boto.cfg": "boto",
    ".vault-token": "vault-token",
    "credentials.tfrc.json": "terraform-credentials",
    ".yarnrc.yml": "yarnrc",
}
_BY_PARENT_AND_NAME = {
    (".docker", "config.json"): "docker-config",
    (".aws", "credentials"): "aws-credentials",
    (".aws", "config"): "aws-credentials",
    (".git", "config"): "git-config",
    ("git", "credentials"): "git-credentials",  # $XDG_CONFIG_HOME/git/credentials
    (".kube", "config"): "kubeconfig",
    ("kubernetes", "admin.conf"): "kubeconfig",
    (".cargo", "credentials"): "cargo-credentials",
    (".cargo", "credentials.toml"): "cargo-credentials",
    (".gem", "credentials"): "gem-credentials",
    ("gh", "hosts.yml"): "gh-hosts",
}
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".tmpl", ".tpl")
_KUBECONFIG_EXTS = ("", ".yaml", ".yml", ".conf", ".config", ".json")


def effective_path(content_path: str, inner_path: str | None) -> str:
    """The path a file is known by: its in-image path, or its path inside the innermost nested archive."""
    if inner_path:
        return inner_path.rsplit("!", 1)[-1].lstrip("/")
    return content_path


def sensitive_format(path: str) -> str | None:
    """The credential-file format a path names, or None. Content sniffs (keys, keystores) come on top."""
    parts = path.rstrip("/").split("/")
    name = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    lower = name.lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if (parent, name) in _BY_PARENT_AND_NAME:
        return _BY_PARENT_AND_NAME[(parent, name)]
    if parent == ".ssh" and name.startswith("id_") and not name.endswith(".pub"):
        return "ssh-private-key"
    if (
        name == ".env"
        or (name.startswith(".env.") and not lower.endswith(_ENV_TEMPLATES))
        or lower.endswith(".env")
    ):
        return "dotenv" if not lower.endswith(_ENV_TEMPLATES) else None
    if "kubeconfig" in lower and _ext(lower) in _KUBECONFIG_EXTS:
        return "kubeconfig"
    if lower.endswith((".tfstate", ".tfstate.backup")):
        return "terraform-state"
    if lower.endswith((".tfvars", ".tfvars.json")):
        return "terraform-vars"
    if name == "auth.json":
        return "auth-json"  # containers auth.json or Composer auth.json: decided by content
    if lower.endswith((".p12", ".pfx")):
        return "pkcs12"
    if lower.endswith((".jks", ".jceks", ".keystore")):
        return "java-keystore"
    if lower.endswith((".kdbx", ".kdb")):
        return "keepass"
    return None


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


_SENSITIVE_DIRS = {".ssh", ".aws", ".docker", ".kube", ".gnupg"}


def _sensitive_deleted(path: str) -> str | None:
    fmt = sensitive_format(path)
    if fmt is not None:
        return fmt
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name if name in _SENSITIVE_DIRS else None


# --- private key blocks ------------------------------------------------------------------------------

_KEY_BEGIN = re.compile(rb"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY( BLOCK)?-----")
_B64_BYTES = re.compile(rb"[A-Za-z0-9+/=]")
_MAX_KEY_BLOCK = 256 * 1024
_TEST_DIRS = {"test", "tests", "testdata", "test-data", "testing", "fixtures", "__tests__", "spec", "specs"}
_LIBRARY_DIRS = {"site-packages", "dist-packages", "node_modules", "vendor", "gems", "go", "pkg", "share"}


@dataclass(frozen=True)
class KeyBlock:
    start: int
    end: int
    encrypted: bool
    truncated: bool


def private_key_blocks(data: bytes) -> Iterator[KeyBlock]:
    """PEM/OpenSSH/PGP private key blocks with a real body, in byte offsets."""
    if b"PRIVATE KEY" not in data:
        return
    for m in _KEY_BEGIN.finditer(data):
        end_marker = b"-----END " + m.group(1) + b"PRIVATE KEY" + (m.group(2) or b"") + b"-----"
        stop = data.find(end_marker, m.end(), m.end() + _MAX_KEY_BLOCK)
        truncated = stop < 0
        body_end = min(len(data), m.end() + _MAX_KEY_BLOCK) if truncated else stop
        body = data[m.end() : body_end].replace(b"\\n", b"\n").replace(b"\\r", b"")
        if truncated:
            # Without an END marker, the body is the run of base64 lines right after the header.
            run = re.match(rb"(?:[ \t]*(?:[A-Za-z0-9+/=]+|[\w-]+: [^\n]*)?\r?\n)+", body.lstrip(b"\r\n"))
            body = run.group(0) if run else b""
            body_end = m.end() + len(body)
        if not filters.is_pem_key_body(body, complete=not truncated):
            continue
        block_end = body_end if truncated else stop + len(end_marker)
        yield KeyBlock(m.start(), block_end, _is_encrypted(m.group(1), body), truncated)


def _is_encrypted(kind: bytes, body: bytes) -> bool:
    if b"ENCRYPTED" in kind or b"ENCRYPTED" in body[:200]:
        return True
    if kind == b"OPENSSH ":
        # openssh-key-v1\0, then the cipher name as a length-prefixed string: "none" when unencrypted.
        text = b"".join(_B64_BYTES.findall(body[:400]))
        try:
            raw = base64.b64decode(text[: len(text) // 4 * 4])
        except (binascii.Error, ValueError):
            return False
        magic = b"openssh-key-v1\x00"
        if raw.startswith(magic) and len(raw) >= len(magic) + 4:
            size = int.from_bytes(raw[len(magic) : len(magic) + 4], "big")
            return raw[len(magic) + 4 : len(magic) + 4 + size] != b"none"
    return False


def _is_library_test_file(path: str) -> bool:
    parts = set(path.lower().split("/"))
    in_library = bool(parts & _LIBRARY_DIRS) or any(p.startswith(("python2", "python3")) for p in parts)
    return in_library and bool(parts & _TEST_DIRS)


# --- binary keystores ------------------------------------------------------------------------------

_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_PKCS7_ENCRYPTED = bytes.fromhex("2a864886f70d010706")
_OID_KEY_BAGS = (bytes.fromhex("2a864886f70d010c0a0101"), bytes.fromhex("2a864886f70d010c0a0102"))
_KDBX_MAGIC = (
    bytes.fromhex("03d9a29a67fb4bb5"),
    bytes.fromhex("03d9a29a66fb4bb5"),
    bytes.fromhex("03d9a29a65fb4bb5"),
)


def _is_pkcs12(data: bytes) -> bool:
    # SEQUENCE { INTEGER 3, ContentInfo { pkcs7-data ... } ... }: the PFX header, in its first bytes.
    return (
        len(data) > 24 and data[0] == 0x30 and b"\x02\x01\x03" in data[2:7] and _OID_PKCS7_DATA in data[4:24]
    )


def pkcs12_contents(data: bytes) -> str:
    """'key' when a key bag is readable, 'encrypted' when bags are encrypted, else 'certificates'."""
    if any(oid in data for oid in _OID_KEY_BAGS):
        return "key"
    if _OID_PKCS7_ENCRYPTED in data:
        return "encrypted"
    return "certificates"


def jks_contents(data: bytes) -> str:
    """Walk JKS/JCEKS entries: 'key' (a private/secret key entry), 'certificates' (truststore), 'unknown'."""
    pos = 12
    try:
        version = int.from_bytes(data[4:8], "big")
        count = int.from_bytes(data[8:12], "big")
        for _ in range(count):
            tag = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
            pos += 2 + int.from_bytes(data[pos : pos + 2], "big") + 8  # alias, timestamp
            if tag in (1, 3):
                return "key"
            if tag != 2:
                return "unknown"
            if version == 2:
                pos += 2 + int.from_bytes(data[pos : pos + 2], "big")  # certificate type
            size = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4 + size
            if pos > len(data):
                return "unknown"
    except (IndexError, ValueError):
        return "unknown"
    return "certificates"


# --- the detector ----------------------------------------------------------------------------------


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogateescape"))


def _is_path_like(data: bytes) -> bool:
    """A symlink's target text (we get it as the data) or a lone path: not a credential file's content."""
    text = data.strip()
    return b"\n" not in text and len(text) < 4096 and is_secret_reference(text.decode("utf-8", "replace"))


def _blob_secret(data: bytes) -> str:
    return base64.b64encode(data[:4096]).decode("ascii")


class SensitiveFileDetector:
    """Credential files (value pulled out), private keys anywhere, keystores, deleted sensitive files."""

    rules: tuple[Rule, ...] = _build_rules()

    def scan(self, content: Content) -> Iterable[RawMatch]:
        path = effective_path(content.path, content.inner_path)
        data = content.data
        matches: list[RawMatch] = []
        fmt = sensitive_format(path)
        if content.is_first and content.offset == 0:
            if (
                fmt is None
                and path.endswith(".json")
                and b"service_account" in data
                and b"private_key" in data
            ):
                fmt = "service-account"
            if fmt == "auth-json":
                fmt = "docker-config" if b'"auths"' in data else "composer-auth"
            matches.extend(self._binary(fmt, path, data))
            if fmt is not None and fmt not in _BINARY_FORMATS:
                matches.extend(self._credential_file(fmt, data))
        taken = [(m.start, m.end) for m in matches]
        keys = [k for k in private_key_blocks(data) if not any(k.start < e and s < k.end for s, e in taken)]
        for key in keys:
            matches.append(self._key_match(path, data, key))
        lone_ssh_file = fmt == "ssh-private-key" and content.is_first and not keys and not matches
        if lone_ssh_file and data.strip() and not _is_path_like(data):
            matches.append(RawMatch("sensitive-file/ssh-private-key", 0, 0, ""))
        return matches

    def _credential_file(self, fmt: str, data: bytes) -> list[RawMatch]:
        if not data.strip() or _is_path_like(data):
            return []  # BuildKit leaves 0-byte secret mount points behind; a symlink target is not content
        text = data.decode("utf-8", "surrogateescape")
        parsed = credfiles.parse(fmt, text)
        real = [c for c in parsed.credentials if not _is_stand_in(fmt, c.value)]
        if real:
            return [
                RawMatch(
                    f"credential-file/{fmt}", _byte_offset(text, c.start), _byte_offset(text, c.end), c.value
                )
                for c in real
            ]
        if parsed.credentials or parsed.understood or fmt in _ALWAYS_UNDERSTOOD:
            return []
        if fmt == "ssh-private-key":
            return []  # decided by the private-key blocks in scan()
        return [RawMatch(f"sensitive-file/{fmt}", 0, 0, "")]

    def _binary(self, fmt: str | None, path: str, data: bytes) -> list[RawMatch]:
        if _is_pkcs12(data):
            contents = pkcs12_contents(data)
            if contents == "key":
                return [RawMatch("credential-file/pkcs12", 0, 0, _blob_secret(data))]
            if contents == "encrypted":
                return [RawMatch("sensitive-file/pkcs12", 0, 0, "")]
            return []
        if data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce"):
            contents = jks_contents(data)
            if contents == "key":
                return [RawMatch("credential-file/java-keystore", 0, 0, _blob_secret(data))]
            name = path.rsplit("/", 1)[-1].lower()
            if contents == "certificates" or "cacerts" in name or "trust" in name:
                return []
            return [RawMatch("sensitive-file/java-keystore", 0, 0, "")]
        if data[:8] in _KDBX_MAGIC:
            return [RawMatch("sensitive-file/keepass", 0, 0, "")]
        if fmt in _BINARY_FORMATS and data.strip() and not _is_path_like(data) and b"PRIVATE KEY" not in data:
            return [RawMatch(f"sensitive-file/{fmt}", 0, 0, "")]
        return []

    def _key_match(self, path: str, data: bytes, key: KeyBlock) -> RawMatch:
        secret = data[key.start : key.end].decode("utf-8", "replace")
        notes = []
        severity: Severity | None = None
        if key.encrypted:
            severity = Severity.MEDIUM
            notes.append("the key is encrypted with a passphrase")
        if _is_library_test_file(path):
            severity = Severity.LOW
            notes.append("a test key shipped inside a library's test data; check that it is not yours")
        if key.truncated:
            notes.append("no END line in this window")
        return RawMatch(
            "credential-file/private-key", key.start, key.end, secret, severity, "; ".join(notes) or None
        )

    def scan_member(
        self, path: str, kind: str, size: int, linkname: str | None, layer_index: int
    ) -> Iterable[RawMatch]:
        """Tar members that are not content: a whiteout of a sensitive path is evidence; symlinks are not."""
        if kind not in ("whiteout", "wh"):
            return []
        directory, _, name = path.rstrip("/").rpartition("/")
        if name.startswith(".wh..wh."):
            return []  # opaque-directory marker: names nothing in particular
        if name.startswith(".wh."):
            name = name[len(".wh.") :]
        deleted = f"{directory}/{name}" if directory else name
        what = _sensitive_deleted(deleted)
        if what is None:
            return []
        return [RawMatch("sensitive-file/deleted", 0, 0, "", note=f"{deleted} ({what}) hidden by a whiteout")]


def _is_stand_in(fmt: str, value: str) -> bool:
    if fmt == "htpasswd":
        return not value.strip()  # hashes start with $apr1$, $2y$: not variables
    return is_placeholder(value) or is_documented_example(value) or is_secret_reference(value)
