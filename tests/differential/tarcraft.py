"""Raw tar blocks built byte by byte, odd encodings included, for the differential and fuzz tests."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

BLOCK = 512

MAGICS = {
    "ustar": (b"ustar\0", b"00", b""),
    "gnu": (b"ustar ", b" \0", b""),
    "star": (b"ustar\0", b"00", b"tar\0"),
    "v7": (b"", b"", b""),
    "gnu-bad-version": (b"ustar ", b"00", b""),
}


def octal(value: int, width: int) -> bytes:
    """The usual encoding: zero-padded digits and a NUL."""
    return b"%0*o\0" % (width - 1, value)


def encode_number(value: int, width: int, style: str) -> bytes:
    """`value` in a `width`-byte numeric field, in one of the ways writers (and attackers) spell it."""
    digits = b"%o" % abs(value)
    if style == "octal":
        field = octal(value, width) if len(digits) < width else digits[:width]
    elif style == "leading-nul":
        field = b"\0" + digits
    elif style == "leading-space":
        field = b" " * (width - 1 - len(digits)) + digits
    elif style == "trailing-space":
        field = digits + b" "
    elif style == "space-nul":
        field = digits + b" \0"
    elif style == "nul-junk":
        field = digits + b"\0junk"
    elif style == "inner-space":
        field = digits[:1] + b" " + digits[1:]
    elif style == "odd-digit":
        field = digits + b"8"
    elif style == "plus":
        field = b"+" + digits
    elif style == "base256":
        field = bytes((0x80,)) + value.to_bytes(width - 1, "big", signed=True)
    elif style == "base256-wide":  # 0x80 plus value bits in the first byte: Go reads it, tarfile does not
        field = (value | (0x81 << (8 * (width - 1)))).to_bytes(width, "big", signed=False)
    elif style == "base256-negative":
        field = (-1 - abs(value)).to_bytes(width, "big", signed=True)
    elif style == "empty":
        field = b""
    else:
        raise ValueError(style)
    return field[:width].ljust(width, b"\0")


NUMBER_STYLES = (
    "octal",
    "leading-nul",
    "leading-space",
    "trailing-space",
    "space-nul",
    "nul-junk",
    "inner-space",
    "odd-digit",
    "plus",
    "base256",
    "base256-wide",
    "base256-negative",
    "empty",
)
CHECKSUM_STYLES = ("standard", "seven-digits", "leading-space", "leading-nul", "signed", "wrong", "base256")


@dataclass
class Header:
    """One 512-byte header block; fields are raw bytes, numbers given with their encoding style."""

    name: bytes
    type: bytes = b"0"
    size: int = 0
    size_style: str = "octal"
    mode: int = 0o644
    mode_style: str = "octal"
    uid: int = 0
    uid_style: str = "octal"
    mtime: int = 1_700_000_000
    mtime_style: str = "octal"
    linkname: bytes = b""
    magic: str = "ustar"
    prefix: bytes = b""
    devices: bytes | None = None  # raw 16 bytes at 329, default "0000000\0" twice for ustar/gnu
    gnu_times: bytes = b""  # raw bytes at 345 for GNU headers (atime, ctime)
    checksum: str = "standard"

    def block(self) -> bytes:
        b = bytearray(BLOCK)
        b[0:100] = self.name[:100].ljust(100, b"\0")
        b[100:108] = encode_number(self.mode, 8, self.mode_style)
        b[108:116] = encode_number(self.uid, 8, self.uid_style)
        b[116:124] = octal(0, 8)
        b[124:136] = encode_number(self.size, 12, self.size_style)
        b[136:148] = encode_number(self.mtime, 12, self.mtime_style)
        b[156:157] = self.type[:1].ljust(1, b"\0")
        b[157:257] = self.linkname[:100].ljust(100, b"\0")
        magic, version, trailer = MAGICS[self.magic]
        b[257:263] = magic.ljust(6, b"\0")
        b[263:265] = version.ljust(2, b"\0")
        if magic:
            b[329:345] = self.devices if self.devices is not None else octal(0, 8) * 2
        if self.prefix:
            b[345 : 345 + len(self.prefix[:155])] = self.prefix[:155]
        if self.gnu_times:
            b[345 : 345 + len(self.gnu_times[:24])] = self.gnu_times[:24]
        if trailer:
            b[508:512] = trailer
        set_checksum(b, self.checksum)
        return bytes(b)


def set_checksum(b: bytearray, style: str = "standard") -> None:
    """Write the checksum field of header `b` in the given style."""
    b[148:156] = b" " * 8
    unsigned = sum(b)
    signed = sum(x - 256 if x > 127 else x for x in b)
    field = {
        "standard": b"%06o\0 " % unsigned,
        "seven-digits": b"%07o\0" % unsigned,
        "leading-space": b" %06o\0" % unsigned,
        "leading-nul": b"\0%06o\0" % unsigned,
        "signed": b"%06o\0 " % (signed & 0o777777),
        "wrong": b"%06o\0 " % ((unsigned + 1) & 0o777777),
        "base256": bytes((0x80,)) + unsigned.to_bytes(7, "big"),
    }[style]
    b[148:156] = field[:8].ljust(8, b"\0")


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def member(header: Header, data: bytes) -> bytes:
    """A header and its data, padded to whole blocks."""
    return header.block() + pad(data)


def pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(b"%d" % length) + len(body) != length:
        length += 1
    return b"%d" % length + body


def extension(kind: bytes, payload: bytes, name: bytes = b"././@PaxHeader") -> bytes:
    """An extended header (x, g, L, K) carrying `payload`."""
    return member(Header(name, kind, len(payload)), payload)


def pax(records: dict[bytes, bytes], kind: bytes = b"x") -> bytes:
    return extension(kind, b"".join(pax_record(k, v) for k, v in records.items()))


def end(zero_blocks: int = 2) -> bytes:
    return bytes(BLOCK * zero_blocks)


def _tarfile_seed(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers={"comment": "seed"}) as tar:
        for name, size in (("etc/passwd", 40), ("d" * 120 + "/long", 700), ("empty", 0)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"s" * size))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "etc/passwd"
        tar.addfile(link)
    return buf.getvalue()


def seed_archives() -> list[bytes]:
    """Small valid tars of every flavour: the seeds that the fuzz targets mutate."""
    return [
        _tarfile_seed(tarfile.USTAR_FORMAT),
        _tarfile_seed(tarfile.GNU_FORMAT),
        _tarfile_seed(tarfile.PAX_FORMAT),
        pax({b"path": b"p", b"size": b"3"}) + member(Header(b"h", size=3), b"abc") + end(),
        extension(b"L", b"long/name\0")
        + member(Header(b"x", magic="gnu", size=5, size_style="base256"), b"12345"),
        member(Header(b"sparse", b"S", magic="gnu", size=4), b"data") + end(1),
    ]
