"""Magic bytes for every format imgscan opens, in one place: what a blob or a file's first bytes are."""

from __future__ import annotations

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
LZMA_ALONE_PROPS = 0x5D  # the properties byte every lzma-alone (.lzma) stream of the default settings has
BZIP2_MAGIC = b"BZh"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_END = b"PK\x05\x06"
GIT_PACK = b"PACK"
TAR_MAGIC_OFFSET = 257
HEAD = 512  # bytes a caller hands in: enough for every magic here, the tar header included
ZIP_END_SEARCH = 65_557  # end-of-central-directory (22 bytes) plus the longest zip comment
ZIP_COMMENT_SEEN = 1024  # comment length up to which a zip after other bytes is found by its end record

COMPRESSIONS = frozenset(("gzip", "zstd", "xz", "lzma", "bzip2", "lz4", "zlib"))
# The first byte of every magic above (zstd skippable frames: 0x50-0x5F): most files stop at this test.
_MAGIC_FIRST = frozenset(bytes((b,)) for b in (*b"\x1f\x28\xfd\x04\x5dBPx", *range(0x50, 0x60)))
_BZIP2_LEVELS = tuple(bytes((c,)) for c in b"123456789")
_BZIP2_BLOCK = (b"1AY&SY", b"\x17rE8P\x90")  # first block, or the end of an empty stream


def is_zstd_skippable(head: bytes) -> bool:
    """A zstd skippable frame (magic 0x184D2A50-5F): pzstd starts its output with one."""
    return len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18"


def compression_kind(head: bytes) -> str | None:
    """The compression a blob's first bytes announce (gzip, zstd, xz, bzip2, lz4), or None for plain."""
    if head.startswith(GZIP_MAGIC + b"\x08"):
        return "gzip"
    if head.startswith(ZSTD_MAGIC) or is_zstd_skippable(head):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if (
        head.startswith(BZIP2_MAGIC)
        and head[3:4].isdigit()
        and head[3:4] != b"0"
        and head[4:10] in _BZIP2_BLOCK
    ):
        return "bzip2"
    if head.startswith(LZ4_MAGIC):
        return "lz4"
    if is_lzma_alone(head):
        return "lzma"
    return None


def is_lzma_alone(head: bytes) -> bool:
    """An lzma-alone (.lzma) header: the default properties byte, a power-of-two dictionary of 64 KiB to
    1 GiB, and an unknown (all ones) or plausible uncompressed size."""
    if len(head) < 13 or head[0] != LZMA_ALONE_PROPS:
        return False
    dictionary = int.from_bytes(head[1:5], "little")
    size = int.from_bytes(head[5:13], "little")
    return (
        dictionary.bit_count() == 1
        and 1 << 16 <= dictionary <= 1 << 30
        and (size == (1 << 64) - 1 or size < 1 << 40)
    )


def is_zlib(head: bytes) -> bool:
    """A zlib stream header with a 32 KiB window and no preset dictionary (git objects, PNG data, PDFs).

    Two bytes are a weak sign: a caller must treat a stream that does not inflate as "not zlib".
    """
    return len(head) >= 2 and head[0] == 0x78 and not head[1] & 0x20 and (head[0] << 8 | head[1]) % 31 == 0


def is_tar(head: bytes) -> bool:
    """A tar header: the ustar magic, or an old v7 header recognised by its checksum."""
    if head[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar":
        return True
    if len(head) < HEAD or not head[0] or head[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 8].strip(b"\0"):
        return False
    digits = head[148:156].rstrip(b"\0 ").strip()
    if not digits or digits.strip(b"01234567"):
        return False
    stored = int(digits, 8)
    return stored == 256 + sum(head[:148]) + sum(head[156:HEAD])


def is_git_pack(head: bytes) -> bool:
    """A git packfile: "PACK", version 2 or 3."""
    return head.startswith(GIT_PACK) and head[4:8] in (b"\0\0\0\x02", b"\0\0\0\x03")


def zip_end_in(tail: bytes) -> bool:
    """Whether a file's last bytes hold a zip end-of-central-directory record: where it sits without an
    archive comment, or after a comment of up to ZIP_COMMENT_SEEN bytes (a search over every file's last
    64 KiB would cost more than the rest of the sniffing)."""
    if tail[-22:-18] == ZIP_END:
        return True
    return tail.rfind(ZIP_END, max(0, len(tail) - 22 - ZIP_COMMENT_SEEN)) != -1


def layer_kind(head: bytes) -> str | None:
    """What a layer blob's first bytes announce: a compression, "tar", or None (not a layer blob)."""
    kind = compression_kind(head)
    if kind is None and len(head) > TAR_MAGIC_OFFSET and is_tar(head):
        return "tar"
    return kind


def archive_kind(head: bytes, tail: bytes = b"") -> str | None:
    """Which archive or compressed format a file's first bytes announce: zip, tar, gitpack, zlib or a
    compression from `compression_kind`. `tail`, when given, is the rest of the file in memory (or its
    end): a zip with bytes before its first entry (a Spring Boot executable jar, a self-extracting
    archive) is found by its end-of-central-directory record there."""
    if head[:1] in _MAGIC_FIRST:
        if head.startswith(ZIP_LOCAL):
            return "zip"
        kind = compression_kind(head)
        if kind is not None:
            return kind
        if is_git_pack(head):
            return "gitpack"
        if is_zlib(head):
            return "zlib"
    if len(head) > TAR_MAGIC_OFFSET and is_tar(head):
        return "tar"
    if tail and zip_end_in(tail) and ZIP_LOCAL in tail:
        return "zip"
    return None


def utf32_codec(head: bytes) -> str | None:
    """The codec of UTF-32 text (which a UTF-8 or UTF-16 view would not show), else None."""
    if len(head) < 16 or (head[1] and head[2]):
        return None  # every UTF-32 form has a zero at index 1 or 2: most files stop here
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"  # the byte-order mark says which, and is dropped
    sample = head[: len(head) // 4 * 4][:64]
    if len(sample) < 16:
        return None
    for codec, text, zeros in (("utf-32-le", 0, (1, 2, 3)), ("utf-32-be", 3, (0, 1, 2))):
        if all(not any(sample[z::4]) for z in zeros) and all(9 <= b < 127 for b in sample[text::4]):
            return codec
    return None
