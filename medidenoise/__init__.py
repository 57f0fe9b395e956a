"""medidenoise: denoise X-ray, CT and MRI images with deep networks.

The public API is listed in ``__all__``, which derives from the ``_EXPORTS`` table (name ->
module), the one list of public names. Names are imported on first use so that
``import medidenoise`` stays fast (torch and MONAI load only when a model or transform is
needed); the ``TYPE_CHECKING`` block repeats the table for type checkers, and
tests/test_architecture.py checks that the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medidenoise._exports import lazy_attributes as _lazy_attributes
from medidenoise._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "MedidenoiseError": "medidenoise.errors",
    "InvalidImageError": "medidenoise.errors",
    "NoImageDataError": "medidenoise.errors",
    "UnsupportedImageError": "medidenoise.errors",
    "MultipleSeriesError": "medidenoise.errors",
    "DicomSeriesError": "medidenoise.errors",
    "MissingDecoderError": "medidenoise.errors",
    "ConfigError": "medidenoise.errors",
    "CheckpointError": "medidenoise.errors",
    "ConversionError": "medidenoise.errors",
    "ExportError": "medidenoise.errors",
    "MissingPackageError": "medidenoise.errors",
    "OutputExistsError": "medidenoise.errors",
    # io
    "Volume": "medidenoise.io",
    "DicomSource": "medidenoise.io",
    "SliceSource": "medidenoise.io",
    "SeriesInfo": "medidenoise.io",
    "read_volume": "medidenoise.io",
    "find_dicom_series": "medidenoise.io",
    "write_nifti": "medidenoise.io",
    "write_volume": "medidenoise.io",
    "write_dicom_series": "medidenoise.io",
    "scan_dicom": "medidenoise.io",
    "DicomScan": "medidenoise.io",
    "read_dicom_series": "medidenoise.io",
    "DicomSeriesReader": "medidenoise.io",
    "is_nifti_path": "medidenoise.io",
    "is_dicom_file": "medidenoise.io",
    "image_stem": "medidenoise.io",
    "load_mni152": "medidenoise.io",
    # transforms
    "add_noise": "medidenoise.transforms",
    "estimate_noise": "medidenoise.transforms",
    "normalize_intensity": "medidenoise.transforms",
    "NormalizationParams": "medidenoise.transforms",
    "NOISE_KINDS": "medidenoise.transforms",
    # config, models, training
    "load_config": "medidenoise.config",
    "ExperimentConfig": "medidenoise.config",
    "build_model": "medidenoise.models",
    "load_model": "medidenoise.models",
    "save_checkpoint": "medidenoise.models",
    "auto_pick": "medidenoise.models",
    "model_card": "medidenoise.models",
    "CARD_MODELS": "medidenoise.models",
    "ModelCard": "medidenoise.models",
    "MODELS": "medidenoise._model_names",
    "train": "medidenoise.engine",
    # inference
    "denoise": "medidenoise.inference",
    "adapt": "medidenoise.adaptation",
    "Denoiser": "medidenoise.inference",
    "DenoiseOptions": "medidenoise.inference",
    "DenoiseProgress": "medidenoise.inference",
    "DenoiseResult": "medidenoise.inference",
    "Provenance": "medidenoise.inference",
    "convert_dicom_folder": "medidenoise.convert",
    "ConversionReport": "medidenoise.convert",
    "derivation_description": "medidenoise.convert",
    "Denoise": "medidenoise.inference",
    "Denoised": "medidenoise.inference",
    # export
    "export_model": "medidenoise.export",
    "EXPORT_FORMATS": "medidenoise.export",
    # evaluation
    "evaluate": "medidenoise.evaluation.evaluate_model",
    "EvaluationResult": "medidenoise.evaluation",
    "psnr": "medidenoise.evaluation",
    "ssim": "medidenoise.evaluation",
    "quality_report": "medidenoise.evaluation",
    "QualityReport": "medidenoise.evaluation",
    "save_quality_figure": "medidenoise.evaluation",
    "ood_warnings": "medidenoise.evaluation",
    "roi_contrast": "medidenoise.evaluation",
    "RoiContrast": "medidenoise.evaluation",
}

__all__ = ["__version__", *_EXPORTS]
__getattr__, __dir__ = _lazy_attributes("medidenoise", _EXPORTS, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from medidenoise._model_names import MODELS
    from medidenoise.adaptation import adapt
    from medidenoise.config import ExperimentConfig, load_config
    from medidenoise.convert import ConversionReport, convert_dicom_folder, derivation_description
    from medidenoise.engine import train
    from medidenoise.errors import (
        CheckpointError,
        ConfigError,
        ConversionError,
        DicomSeriesError,
        ExportError,
        InvalidImageError,
        MedidenoiseError,
        MissingDecoderError,
        MissingPackageError,
        MultipleSeriesError,
        NoImageDataError,
        OutputExistsError,
        UnsupportedImageError,
    )
    from medidenoise.evaluation import (
        EvaluationResult,
        QualityReport,
        RoiContrast,
        ood_warnings,
        psnr,
        quality_report,
        roi_contrast,
        save_quality_figure,
        ssim,
    )
    from medidenoise.evaluation.evaluate_model import evaluate
    from medidenoise.export import EXPORT_FORMATS, export_model
    from medidenoise.inference import (
        Denoise,
        Denoised,
        DenoiseOptions,
        DenoiseProgress,
        Denoiser,
        DenoiseResult,
        Provenance,
        denoise,
    )
    from medidenoise.io import (
        DicomScan,
        DicomSeriesReader,
        DicomSource,
        SeriesInfo,
        SliceSource,
        Volume,
        find_dicom_series,
        image_stem,
        is_dicom_file,
        is_nifti_path,
        load_mni152,
        read_dicom_series,
        read_volume,
        scan_dicom,
        write_dicom_series,
        write_nifti,
        write_volume,
    )
    from medidenoise.models import (
        CARD_MODELS,
        ModelCard,
        auto_pick,
        build_model,
        load_model,
        model_card,
        save_checkpoint,
    )
    from medidenoise.transforms import (
        NOISE_KINDS,
        NormalizationParams,
        add_noise,
        estimate_noise,
        normalize_intensity,
    )
