"""The Add-noise widget: kind, level and seed -> a new noisy layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox

import medidenoise as md
from napari_medidenoise._layers import ROLE_NOISY
from napari_medidenoise._notify import NapariNotifier, Notifier
from napari_medidenoise._state import NoiseSettings
from napari_medidenoise._viewer_tools import image_layer_choices, publish_layer
from napari_medidenoise._workers import add_noise_to

if TYPE_CHECKING:
    import napari
    from napari.layers import Image

__all__ = ["AddNoiseWidget"]

_LEVEL_HINTS = {
    "poisson": "photon count at the image maximum (larger = less noise)",
    "salt_and_pepper": "fraction of pixels replaced",
}


class AddNoiseWidget(Container):
    """Add controlled noise (``medidenoise.add_noise``) to an image layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and receive the result.
    notifier : Notifier, optional
        Where errors go (default: napari's notifications).
    """

    def __init__(
        self, napari_viewer: napari.viewer.Viewer, *, notifier: Notifier | None = None
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.notifier: Notifier = notifier if notifier is not None else NapariNotifier()
        self.settings = NoiseSettings()
        kinds = list(md.NOISE_KINDS)
        self.settings.kind = self.settings.kind if self.settings.kind in kinds else kinds[0]
        self._layer = ComboBox(name="image", choices=self._layer_choices)
        self._kind = ComboBox(name="kind", choices=kinds, value=self.settings.kind)
        self._level = FloatSpinBox(name="level", min=0.0, max=1e9, step=0.01,
                                   value=self.settings.level)  # fmt: skip
        self._hint = Label(name="hint", label="", value="")
        self._seed = SpinBox(name="seed", min=0, max=2**31 - 1, value=self.settings.seed)
        self._add_button = PushButton(name="add_button", label="", text="Add noise")
        self.extend([self._layer, self._kind, self._level, self._hint, self._seed,
                     self._add_button])  # fmt: skip
        for widget in (self._kind, self._level, self._seed):
            widget.changed.connect(self._sync_settings)
        self._add_button.changed.connect(self.add_noise)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self._sync_settings()

    def _layer_choices(self, _widget: Any) -> list[tuple[str, Image]]:
        return image_layer_choices(self.viewer)

    def _refresh_layers(self, _event: Any = None) -> None:
        self._layer.reset_choices()

    def _sync_settings(self, _value: Any = None) -> None:
        """Copy the widget values into :attr:`settings`."""
        self.settings.kind = self._kind.value
        self.settings.level = float(self._level.value)
        self.settings.seed = int(self._seed.value)
        self._hint.value = _LEVEL_HINTS.get(self.settings.kind, "noise std in image units")

    def add_noise(self, _value: Any = None) -> Image | None:
        """Add noise to the chosen layer as "<name> + <kind> noise"; errors are notified."""
        self._sync_settings()
        layer = self._layer.value
        if layer is None:
            self.notifier.error("medidenoise: open an image first (no image layer to add noise to)")
            return None
        s = self.settings
        try:
            noisy = add_noise_to(layer.data, s.kind, s.level, s.seed)
        except (md.MedidenoiseError, ValueError, TypeError) as exc:
            self.notifier.error(f"medidenoise: {exc}")
            return None
        name = f"{layer.name} + {s.kind} noise"
        return publish_layer(self.viewer, layer, name, noisy, role=ROLE_NOISY, noise_kind=s.kind,
                             noise_level=s.level, seed=s.seed)  # fmt: skip
