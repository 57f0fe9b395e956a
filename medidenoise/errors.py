"""Exceptions raised by medidenoise.

Every domain error subclasses :class:`MedidenoiseError` *and* the builtin that
matches its meaning, so callers can catch either ``MedidenoiseError`` or, for
example, ``ValueError``.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "ConversionError",
    "DicomSeriesError",
    "ExportError",
    "InvalidImageError",
    "MedidenoiseError",
    "MissingDecoderError",
    "MissingPackageError",
    "ModelError",
    "MultipleSeriesError",
    "NoImageDataError",
    "OutputExistsError",
    "OutputWriteError",
    "UnsupportedImageError",
]


class MedidenoiseError(Exception):
    """Base class of every error raised on purpose by medidenoise."""


class InvalidImageError(MedidenoiseError, ValueError):
    """An input file or array cannot be used as an image (corrupt, truncated, NaN...)."""


class NoImageDataError(InvalidImageError):
    """A file or folder holds no image that medidenoise can read."""


class UnsupportedImageError(InvalidImageError):
    """The image is valid but of a kind medidenoise does not handle (colour, palette...)."""


class MultipleSeriesError(InvalidImageError):
    """A folder holds several image series and the caller did not pick one."""


class DicomSeriesError(InvalidImageError):
    """A DICOM series is inconsistent (gaps, duplicated positions, mixed geometry...)."""


class MissingDecoderError(MedidenoiseError, ImportError):
    """Pixel data uses a transfer syntax whose decoder package is not installed."""


class ConfigError(MedidenoiseError, ValueError):
    """A configuration file or value is invalid."""


class CheckpointError(MedidenoiseError, ValueError):
    """A model checkpoint is missing, corrupt or incompatible."""


class ModelError(MedidenoiseError, ValueError):
    """What was given as a model cannot be used: not a model at all, or a network whose output
    is not a denoised image (another shape, a tuple, NaN)."""


class ConversionError(MedidenoiseError, RuntimeError):
    """A batch conversion could not be carried out."""


class ExportError(MedidenoiseError, ValueError):
    """A model cannot be exported as asked (unknown format, not a network...)."""


class MissingPackageError(MedidenoiseError, ImportError):
    """An optional package that the requested feature needs is not installed."""


class OutputExistsError(MedidenoiseError, FileExistsError):
    """An output path exists and the caller did not allow overwriting it."""


class OutputWriteError(MedidenoiseError, OSError):
    """An output could not be written (no space left, read-only, not a folder...).

    Nothing is left at the target: writers write to a temporary name beside it and
    rename only a complete file. ``errno`` is that of the operating system's error.
    """

    def __str__(self) -> str:  # the message alone, not OSError's "[Errno n] strerror: file"
        return str(self.args[0]) if self.args else ""
