"""``export_model``: a medidenoise model as TorchScript, ONNX or a MONAI bundle."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from medidenoise._model_names import MODELS, model_kind
from medidenoise.errors import ExportError, OutputExistsError, OutputWriteError
from medidenoise.export._jit import script_pipeline
from medidenoise.export.pipeline import DenoisePipeline
from medidenoise.inference._network import optimise_for_inference
from medidenoise.io._atomic import write_error
from medidenoise.models import load_model, model_config_of
from medidenoise.models.network import contract_of

__all__ = ["EXPORT_FORMATS", "ExportFormat", "build_pipeline", "export_model", "script_pipeline"]

log = logging.getLogger(__name__)

ExportFormat = Literal["onnx", "torchscript", "monai-bundle"]
#: the formats ``export_model`` writes
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript", "monai-bundle")
_SUFFIXES = {".onnx": "onnx", ".ts": "torchscript"}


def _load_network(model: str | os.PathLike | nn.Module) -> tuple[nn.Module, dict[str, Any]]:
    """The network and its checkpoint metadata; refuses what is not a medidenoise network."""
    if isinstance(model, nn.Module):
        net = getattr(model, "module", model)
        model_config_of(net)  # a ConfigError when it is not a medidenoise network
        return net, dict(getattr(net, "metadata", {}) or {})  # left in its mode: copied later
    name = os.fspath(model)
    if model_kind(name) in ("identity", "classical"):
        exportable = ", ".join(repr(n) for n, e in MODELS.items() if e.exportable)
        raise ExportError(
            f"model={name!r} is not a network and cannot be exported; export {exportable} "
            "or a .safetensors checkpoint"
        )
    if name.lower().endswith((".onnx", ".ts")):
        raise ExportError(
            f"{name}: already an exported model; export from its .safetensors checkpoint"
        )
    net = load_model(name)
    return net, dict(getattr(net, "metadata", {}) or {})


def build_pipeline(model: str | os.PathLike | nn.Module = "default") -> DenoisePipeline:
    """The network of ``model`` with its pre- and post-processing, as one eager module.

    BatchNorm is folded into the convolutions (as ``denoise`` runs it). Any network the
    checkpoint's config builds (``models/factory.py``) is accepted; exporting it to TorchScript
    or ONNX needs it to be scriptable, which ``tests/export`` checks for every architecture.

    Parameters
    ----------
    model : str, path or torch.nn.Module
        ``"default"``, ``"cae-baseline"``, a ``.safetensors`` checkpoint or a built network.

    Returns
    -------
    DenoisePipeline
        In eval mode, on the CPU, with the checkpoint metadata as ``.metadata``.
    """
    return _pipeline_from(*_load_network(model))


def _pipeline_from(net: nn.Module, meta: dict[str, Any]) -> DenoisePipeline:
    fused = optimise_for_inference(net, torch.device("cpu"))
    # plain (not channels-last) weights: the exported file may run on a GPU or another runtime
    fused = fused.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    contract = contract_of(net)
    pipeline = DenoisePipeline(
        fused,
        context_slices=contract.context_slices,
        noise_level_input=contract.noise_level_input,
        size_multiple=contract.size_multiple,
    ).eval()
    pipeline.metadata = {**meta, "model": model_config_of(net)}  # type: ignore[assignment]
    return pipeline


def _resolve_format(output: Path, fmt: str | None) -> str:
    if fmt is None:
        fmt = _SUFFIXES.get(output.suffix.lower())
        if fmt is None:
            raise ExportError(
                f"{output}: cannot tell the format from the name; pass format= one of "
                f"{', '.join(EXPORT_FORMATS)} (or name the file .onnx / .ts)"
            )
    if fmt not in EXPORT_FORMATS:
        raise ExportError(
            f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    return fmt


#: the files a bundle export writes: an existing bundle folder may be replaced only when it
#: holds nothing else (``--overwrite`` never deletes what export did not write)
BUNDLE_FILES = frozenset(
    {
        "configs/metadata.json",
        "configs/inference.json",
        "models/model.pt",
        "models/model.ts",
        "docs/README.md",
        "docs/license.txt",
        "docs/metadata_schema.json",
    }
)


def _foreign_entries(folder: Path) -> list[str]:
    """What ``folder`` holds besides a bundle export's own files (relative names; a foreign
    folder is named once, not file by file)."""
    own_dirs = {name.split("/")[0] for name in BUNDLE_FILES}
    foreign: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if any(rel.startswith(seen) for seen in foreign if seen.endswith("/")):
            continue  # inside a folder already named
        if path.is_dir() and not path.is_symlink():
            if rel not in own_dirs:
                foreign.append(rel + "/")
        elif rel not in BUNDLE_FILES:
            foreign.append(rel)
    return foreign


def _check_output(output: Path, fmt: str, overwrite: bool) -> None:
    bundle = fmt == "monai-bundle"
    if output.is_dir() and not bundle:
        raise ExportError(
            f"{output} is a folder; a {fmt} export is one file: name it, e.g. "
            f"--output {output / ('model.onnx' if fmt == 'onnx' else 'model.ts')}"
        )
    if bundle and output.exists() and not output.is_dir():
        raise ExportError(
            f"{output} is a file; a MONAI bundle is a folder: choose a new folder name, e.g. "
            f"--output {output.with_suffix('')}_bundle"
        )
    if output.exists() or output.is_symlink():
        if not overwrite:
            raise OutputExistsError(
                f"{output} exists; pass overwrite=True (--overwrite) to replace it, or choose "
                "another output path"
            )
        if bundle:
            foreign = _foreign_entries(output)
            if foreign:
                shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
                raise OutputExistsError(
                    f"{output} holds files that a bundle export did not write ({shown}); "
                    "--overwrite only replaces an earlier export, never other files: choose "
                    "a new folder, or move those files out first"
                )
    parent = output.parent
    if parent.exists() and not parent.is_dir():
        raise ExportError(f"{output}: {parent} is a file, not a folder; choose another output path")
    if not parent.is_dir():
        raise ExportError(f"{output}: the folder {parent} does not exist; create it first")


def _probe_writable(tmp: Path, output: Path) -> None:
    """Fail before the slow part when nothing can be written beside ``output``."""
    try:
        tmp.mkdir()
        tmp.rmdir()
    except OSError as exc:
        raise write_error(exc, output) from exc


def _write_failure(exc: BaseException, output: Path) -> OutputWriteError | None:
    """The clear error of a failed write of the export (None: not a write failure)."""
    if isinstance(exc, OSError):
        return write_error(exc, output)
    text = str(exc)
    if isinstance(exc, RuntimeError) and ("writ" in text.lower() or "No space" in text):
        # torch's file writer reports a full disk as a RuntimeError
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return OutputWriteError(
            f"{output}: cannot write: {first}; is the disk full (no space left) or the folder "
            "read-only? Nothing was written there"
        )
    return None


def _replace(tmp: Path, output: Path) -> None:
    """Move a finished export into place; the old one goes only once the new one is whole.

    An old bundle folder holds only a bundle's own files (``_check_output`` refused any other).
    """
    if output.is_dir() and not output.is_symlink():
        old = output.with_name(f".{output.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(output, old)
        os.replace(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)


def export_model(
    model: str | os.PathLike | nn.Module,
    output: str | os.PathLike,
    *,
    format: ExportFormat | None = None,
    overwrite: bool = False,
) -> Path:
    """Export a model with its pre- and post-processing for use without medidenoise.

    Parameters
    ----------
    model : str, path or torch.nn.Module
        ``"default"``, ``"cae-baseline"``, a ``.safetensors`` checkpoint or a built network.
    output : str or os.PathLike
        The ``.ts`` / ``.onnx`` file, or the bundle folder, to write.
    format : {"onnx", "torchscript", "monai-bundle"}, optional
        Default from the suffix of ``output`` (``.onnx``, ``.ts``).
    overwrite : bool
        Replace an existing output (only once the new one is complete). A bundle folder is
        replaced only when it holds nothing but a bundle export's own files.

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    ExportError
        Unknown format, a model that is not a network, a network that cannot be scripted.
    OutputExistsError
        ``output`` exists and ``overwrite`` is false, or (a bundle) the folder holds files
        that a bundle export did not write: those are never deleted.
    OutputWriteError
        ``output`` cannot be written (read-only, no space left...); nothing is left there.
    MissingPackageError
        ONNX export without the ``onnx`` package (``pip install 'medidenoise[onnx]'``).

    Notes
    -----
    - **torchscript**: ``torch.jit.load(path)(image, noise_level=None, modality="",
      intensity_range=None)`` takes a (B, H, W) slice batch in the image's own units and returns
      the denoised batch in the same units (see :class:`~medidenoise.export.DenoisePipeline`).
    - **onnx**: inputs ``image`` (B, H, W) float32, ``noise_level`` (1,) (negative: estimate),
      ``intensity_range`` (2,) (``[0, 0]``: choose from the batch; ``[-1000, 1000]`` for CT);
      the metadata properties spell the contract out.
    - **monai-bundle**: a folder that ``python -m monai.bundle run`` runs on a NIfTI file.

    Examples
    --------
    >>> export_model("default", "denoise.ts")  # doctest: +SKIP
    PosixPath('denoise.ts')
    """
    output = Path(output)
    if output.name in ("", ".", ".."):  # "." or "..": the folder's own name, made absolute
        output = Path(os.path.abspath(output))
    fmt = _resolve_format(output, format)
    _check_output(output, fmt, overwrite)
    if fmt == "onnx":  # fail on a missing package before the slow part
        from medidenoise.export.onnx import import_onnx

        import_onnx()
    net, meta = _load_network(model)
    pipeline = _pipeline_from(net, meta)
    tmp = output.with_name(f".{output.name}.partial")
    if tmp.is_dir():
        shutil.rmtree(tmp)
    _probe_writable(tmp, output)
    try:
        if fmt == "torchscript":
            from medidenoise.export.torchscript import write_torchscript

            write_torchscript(pipeline, tmp)
        elif fmt == "onnx":
            from medidenoise.export.onnx import write_onnx

            write_onnx(pipeline, tmp)
        else:
            from medidenoise.export.bundle import write_monai_bundle

            write_monai_bundle(pipeline, tmp, name=output.name, weights=net.state_dict())
        _replace(tmp, output)
    except (OSError, RuntimeError) as exc:
        failure = _write_failure(exc, output)
        if failure is None:
            raise
        raise failure from exc
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
    log.info("exported %s as %s: %s", getattr(model, "name", model), fmt, output)
    return output
