"""The docker:// source: images read from a registry over the distribution API v2, no daemon needed."""

from scanner.sources.registry.options import Credentials, RegistryOptions, parse_creds
from scanner.sources.registry.reference import is_registry_reference
from scanner.sources.registry.source import RegistrySource, open_registry

__all__ = [
    "Credentials",
    "RegistryOptions",
    "RegistrySource",
    "is_registry_reference",
    "open_registry",
    "parse_creds",
]
