"""docker://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST] references, normalised as the docker CLI does."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from scanner.errors import UsageError

TRANSPORT = "docker://"
DOCKER_HUB = "docker.io"
# The docker CLI's names for Docker Hub: where its API lives and the key its credentials are stored under.
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_HOST = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$"
)
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Reference:
    """One image in one registry: `host` as written (host[:port]), `repository`, and a tag or a digest."""

    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        """Where the distribution API answers (Docker Hub's name differs from its API host)."""
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def auth_key(self) -> str:
        """The key Docker stores this registry's credentials under."""
        return DOCKER_HUB_AUTH_KEY if self.host == DOCKER_HUB else self.host

    @property
    def manifest_ref(self) -> str:
        """What the manifests endpoint is asked for: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def is_loopback(self) -> bool:
        """True for localhost and 127.0.0.0/8 / ::1, which Docker lets speak plain HTTP."""
        name = self.host.rsplit(":", 1)[0] if not self.host.endswith("]") else self.host
        name = name.strip("[]")
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_registry_reference(ref: str) -> bool:
    return ref.startswith(TRANSPORT)


def parse_reference(ref: str) -> Reference:
    """Parse `docker://...`; a name without a registry host is Docker Hub's, as with `docker pull`."""
    if not is_registry_reference(ref):
        raise UsageError(f"not a registry reference (expected {TRANSPORT}HOST/REPO:TAG): {ref}")
    rest = ref[len(TRANSPORT) :]
    name, _, digest = rest.partition("@")
    if digest and not _SHA256.match(digest):
        raise UsageError(f"{ref}: only sha256:<64 hex digits> digests are supported")
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        host, path = first, remainder
    else:
        host, path = DOCKER_HUB, name
    tag: str | None = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.match(tag):
            raise UsageError(f"{ref}: invalid tag {tag!r}")
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _HOST.match(host):
        raise UsageError(f"{ref}: invalid registry host {host!r}")
    if not path or not _REPO.match(path):
        raise UsageError(f"{ref}: invalid repository name {path!r} (lowercase letters, digits, . _ - /)")
    if not digest and tag is None:
        tag = "latest"
    return Reference(host=host, repository=path, tag=tag, digest=digest or None)
