"""Small helpers between the widgets and the viewer: the slice on screen, result layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from napari_medidenoise._layers import META_KEY, source_volume

if TYPE_CHECKING:
    import napari
    from napari.layers import Image

__all__ = ["bring_to_top", "current_slice", "image_layer_choices", "publish_layer"]


def image_layer_choices(viewer: napari.viewer.Viewer) -> list[tuple[str, Image]]:
    """(name, layer) of the grayscale image layers, for a layer picker."""
    from napari.layers import Image

    return [
        (layer.name, layer)
        for layer in viewer.layers
        if isinstance(layer, Image) and not layer.rgb and not layer.multiscale
    ]


def current_slice(viewer: napari.viewer.Viewer, layer: Image) -> tuple[int, int | None]:
    """``(axis, index)`` of the slice of ``layer`` on screen; index is None for 2D layers.

    In 2D display the axis is the one not displayed; in 3D display, the first
    displayed (depth) axis.
    """
    if layer.ndim == 2:
        return 0, None
    offset = viewer.dims.ndim - layer.ndim
    order = [a - offset for a in viewer.dims.order if a >= offset]
    axis = order[-3]
    coords = layer.world_to_data(viewer.dims.point)
    index = int(np.clip(np.round(coords[axis]), 0, layer.data.shape[axis] - 1))
    return axis, index


def _derived_metadata(source: Image, role: str, **facts: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"derived_from": source.name, "role": role, **facts}
    volume = source_volume(source.metadata)
    if volume is not None:
        entry["volume"] = volume
    return {META_KEY: entry}


def publish_layer(
    viewer: napari.viewer.Viewer,
    source: Image,
    name: str,
    data: np.ndarray,
    *,
    role: str = "derived",
    translate: tuple[float, ...] | None = None,
    contrast_limits: tuple[float, float] | None = None,
    colormap: str | None = None,
    visible: bool = True,
    **facts: Any,
) -> Image:
    """Add ``data`` as layer ``name`` with the source's geometry, or update that layer.

    The new layer keeps the source volume in its metadata, so it can be saved
    as a NIfTI file with the original geometry, and ``role`` (one of the
    ``ROLE_*`` values of ``_layers``): only a ``"denoised"`` layer may be saved
    as a derived DICOM series of its source. ``visible=False`` adds the layer
    hidden (and hides the layer it updates); ``facts`` go into the metadata.
    """
    state: dict[str, Any] = {
        "scale": tuple(source.scale),
        "translate": tuple(source.translate) if translate is None else tuple(translate),
        "affine": np.array(source.affine.affine_matrix),
        "contrast_limits": tuple(source.contrast_limits)
        if contrast_limits is None
        else contrast_limits,
        "colormap": source.colormap.name if colormap is None else colormap,
        "metadata": _derived_metadata(source, role, **facts),
        "visible": visible,
    }
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        for key in ("scale", "translate", "affine", "contrast_limits", "metadata", "visible"):
            setattr(layer, key, state[key])
        layer.colormap = state["colormap"]
        return layer
    return viewer.add_image(data, name=name, **state)


def bring_to_top(viewer: napari.viewer.Viewer, layer: Image) -> None:
    """Move ``layer`` to the top of the layer list (drawn last, so it is the one seen)."""
    layers = viewer.layers
    index = layers.index(layer)
    if index != len(layers) - 1:
        layers.move(index, len(layers))
