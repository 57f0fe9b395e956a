"""Errors of the PACS connections (DICOMweb and the DICOM node)."""

from __future__ import annotations

from medidenoise.errors import ConversionError

__all__ = ["PacsError", "PacsUnreachableError"]


class PacsError(ConversionError):
    """A PACS (DICOMweb server or DICOM node) refused or failed a request."""


class PacsUnreachableError(PacsError, ConnectionError):
    """A PACS could not be reached at all (not running, wrong address, no network)."""
