"""Batch conversion: denoise a DICOM export or NIfTI files into derived series.

``plan`` (what is converted and where it goes), ``unit`` (one series, all or
nothing), ``parallel`` (worker processes and torchrun ranks), ``dask`` (a Dask
cluster), ``lock`` (one run per OUTPUT, one writer per series), ``report`` and
``provenance`` (the model's identity in the derived header). This layer sits
above :mod:`medidenoise.inference`, whose ``Denoiser`` does the denoising.
"""

from medidenoise._exports import public_names as _public_names
from medidenoise.convert.folder import convert_dicom_folder
from medidenoise.convert.lock import OutputLockedError
from medidenoise.convert.provenance import derivation_description
from medidenoise.convert.report import ConversionReport

__all__ = _public_names(globals())  # the names imported above
