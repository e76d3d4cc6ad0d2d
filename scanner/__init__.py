"""imgscan: prove, layer by layer, whether any secret landed in a container image."""

__version__ = "0.1.0"
