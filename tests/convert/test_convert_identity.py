"""``convert_dicom_folder(model="identity")`` writes every source value back exactly.

One source file per case, through the public conversion path (scan, read,
denoise, write, re-read check, publish), over every transfer syntax and
photometric case the reader supports. "Exact" means the same decoded pixel
array, dtype, Bits Stored and Pixel Representation as the source.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from factories import data_file
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian

from medidenoise.convert import convert_dicom_folder

#: (file, what it covers); 693_*, RG3_* and MR2_* are hold-out images: read here, never trained on
CASES = [
    ("MR_small.dcm", "Explicit VR Little Endian, signed 16-bit"),
    ("MR_small_implicit.dcm", "Implicit VR Little Endian"),
    ("MR_small_bigendian.dcm", "Explicit VR Big Endian"),
    ("image_dfl.dcm", "Deflated Explicit VR Little Endian, 8-bit"),
    ("MR_small_RLE.dcm", "RLE Lossless"),
    ("JPGExtended.dcm", "JPEG Extended (lossy) 12-bit"),
    ("JPEG-LL.dcm", "JPEG Lossless P14 SV1, signed 16-bit"),
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", "JPEG Lossless, 8-bit"),
    ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS Lossless"),
    ("JPEGLSNearLossless_16.dcm", "JPEG-LS near-lossless 16-bit"),
    ("JPEGLSNearLossless_08.dcm", "JPEG-LS near-lossless 8-bit"),
    ("MR_small_jp2klossless.dcm", "JPEG 2000 Lossless"),
    ("JPEG2000.dcm", "JPEG 2000 (lossy)"),
    ("693_J2KI.dcm", "JPEG 2000 lossy, Bits Stored 14 vs the stream"),
    ("J2K_pixelrep_mismatch.dcm", "JPEG 2000, Pixel Representation mismatch, Bits Stored 13"),
    ("RG1_UNCR.dcm", "MONOCHROME1 CR, Bits Stored 15"),
    ("RG1_J2KI.dcm", "MONOCHROME1 CR, JPEG 2000 lossy"),
    ("dicomdirtests/77654033/CR1/6154", "MONOCHROME1 CR, slope 0.684 / intercept 200"),
    ("MR_small_padded.dcm", "excess padding after Pixel Data"),
    ("emri_small.dcm", "enhanced MR, 10 frames, Bits Stored 12"),
    ("emri_small_RLE.dcm", "enhanced MR, RLE Lossless"),
    ("emri_small_jpeg_2k_lossless.dcm", "enhanced MR, JPEG 2000 Lossless"),
    ("emri_small_jpeg_ls_lossless.dcm", "enhanced MR, JPEG-LS Lossless"),
    ("emri_small_big_endian.dcm", "enhanced MR, Explicit VR Big Endian"),
    ("eCT_Supplemental.dcm", "enhanced CT, 2 frames"),
]


@pytest.mark.parametrize(("name", "case"), CASES, ids=[c[0] for c in CASES])
def test_identity_conversion_is_bit_exact(name: str, case: str, tmp_path: Path) -> None:
    src = data_file(name)
    before = src.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on odd sources are not the point here
        report = convert_dicom_folder(src, tmp_path / "out", model="identity")
    assert report.ok, report.summary()
    (entry,) = report.series
    (out_file,) = sorted(Path(entry.output).glob("*.dcm"))
    source, out = dcmread(src), dcmread(out_file)
    a, b = source.pixel_array, out.pixel_array
    assert a.dtype.newbyteorder("=") == b.dtype.newbyteorder("="), (case, a.dtype, b.dtype)
    np.testing.assert_array_equal(b, a, err_msg=case)
    assert (out.BitsAllocated, out.BitsStored, out.PixelRepresentation) == (
        source.BitsAllocated,
        source.BitsStored,
        source.PixelRepresentation,
    ), case
    assert out.PhotometricInterpretation == source.PhotometricInterpretation
    assert int(out.get("NumberOfFrames", 1)) == int(source.get("NumberOfFrames", 1))
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert out.ImageType[0] == "DERIVED"
    assert src.read_bytes() == before  # the original is only read


def test_undecodable_source_fails_cleanly(tmp_path: Path) -> None:
    """JPEG-lossy.dcm: no installed decoder reads its stream; reported, nothing written."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = convert_dicom_folder(data_file("JPEG-lossy.dcm"), tmp_path / "out",
                                      model="identity")  # fmt: skip
    (entry,) = report.series
    assert entry.status == "failed" and "cannot decode" in entry.reason
    assert not report.ok
    assert not Path(entry.output).exists()
