"""Denoise where the images live: DICOMweb servers and a DICOM node.

``web`` (:func:`convert_dicomweb`: a DICOMweb study or series in, a DICOMweb
server or a folder out, through the folder conversion), ``dicomweb`` (the
small QIDO/WADO/STOW client), ``node`` (:class:`DicomNode`, the C-STORE
receiver behind ``medidenoise serve``), ``spool`` (what the node keeps on
disk so that a restart loses and repeats nothing) and ``send`` (C-STORE to the
destination). Needs ``pip install 'medidenoise[pacs]'`` (pynetdicom, requests).
This layer sits beside :mod:`medidenoise.convert`, which it calls; the names
that need it load on first use (the ``_LAZY`` table), so the command line
starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medidenoise._exports import lazy_attributes as _lazy_attributes
from medidenoise._exports import public_names as _public_names
from medidenoise.pacs.errors import PacsError, PacsUnreachableError

_LAZY: dict[str, str] = {
    "DicomNode": "medidenoise.pacs.node",
    "NodeOptions": "medidenoise.pacs.node",
    "convert_dicomweb": "medidenoise.pacs.web",
    "derived_series_uid": "medidenoise.pacs.web",
}

__all__ = sorted([*_public_names(globals()), *_LAZY])
__getattr__, __dir__ = _lazy_attributes("medidenoise.pacs", _LAZY, globals())

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from medidenoise.pacs.node import DicomNode, NodeOptions
    from medidenoise.pacs.web import convert_dicomweb, derived_series_uid
