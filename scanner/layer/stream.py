"""A layer's byte stream: the stored blob counted and hashed, decompressed by its sniffed kind, and the tar
stream counted, hashed and held to the layer's size cap and bomb rule."""

from __future__ import annotations

from scanner.decompress import Decoder, Meter, Readable, decompressing_reader
from scanner.layer.limits import MIB, Limits


class LayerStream:
    """Read the tar through `tar`; then `finish()` and the digests of what was read."""

    def __init__(self, raw: Readable, limits: Limits) -> None:
        self.raw = Meter(raw)
        reader, self.compression = decompressing_reader(self.raw)
        self.plain = self.compression == "none"
        self.decoder = reader if isinstance(reader, Decoder) else None
        # An uncompressed blob is the tar stream itself: hash it once.
        self.tar = Meter(
            reader,
            hashing=not self.plain,
            what="uncompressed layer",
            rule=limits.layer_rule(),
            source=None if self.plain else self.raw,
        )

    def finish(self) -> None:
        """Read what is left of the stored blob, so its digest covers every byte."""
        while self.raw.read(MIB):
            pass

    def blob_digest(self) -> str:
        return self.raw.digest()

    def diff_id(self) -> str:
        return self.raw.digest() if self.plain else self.tar.digest()
