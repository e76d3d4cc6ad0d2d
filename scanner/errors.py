"""The one exception hierarchy: raised where the cause is known, turned into exit code 2 in cli.py."""


class ScanError(Exception):
    """A scan could not be done or completed; the message is one line a user can act on."""


class UsageError(ScanError):
    """Bad arguments or option values."""


class SourceError(ScanError):
    """The image could not be reached: no such file or image, no daemon, permission denied."""


class FormatError(ScanError):
    """The image's manifests, index or config are not a readable image."""


class LayerError(ScanError):
    """One layer (or a nested archive in it) could not be read in full."""


class LimitError(LayerError):
    """A safety limit (size, depth, expansion, header size) stopped reading."""
