"""The provider rule catalogue: token formats as data (providers/*.toml), their loader and their detector."""

from scanner.detectors.catalogue.detector import CatalogueDetector
from scanner.detectors.catalogue.loader import ProviderRule, load_catalogue

__all__ = ["CatalogueDetector", "ProviderRule", "load_catalogue"]
