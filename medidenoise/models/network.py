"""``DenoisingNetwork``: the contract every medidenoise network keeps, in one place.

The Denoiser, export and adaptation read a network's shape of input from three
attributes: ``context_slices`` (odd; 1 for 2D: the slices it sees per output slice),
``noise_level_input`` (it takes the noise std as a last, constant channel) and
``size_multiple`` (H and W must be multiples of it; the caller pads). The project's
networks subclass :class:`DenoisingNetwork`, which declares them with their defaults
(and ``arch``/``hparams``, which rebuild the network from a checkpoint). A network of
the user's own (any ``torch.nn.Module``) is read through :func:`contract_of`, the one
place that falls back to the defaults for the attributes it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

__all__ = ["DenoisingNetwork", "NetworkContract", "contract_of"]


class DenoisingNetwork(nn.Module):
    """Base class of the denoising networks: ``forward(x)`` maps (B, C_in, H, W) to
    (B, 1, H, W), the denoised centre slice, with ``C_in = context_slices +
    int(noise_level_input)`` in network units.

    Attributes
    ----------
    arch : str
        The architecture's name in ``models.factory.ARCHITECTURES`` (class attribute).
    context_slices : int
        Slices the network sees per output slice (odd; 1 for 2D).
    noise_level_input : bool
        Whether the noise std (network units) comes in as the last channel.
    size_multiple : int
        H and W must be multiples of it.
    hparams : dict
        The keyword arguments that rebuild the network (``build_model({"arch": arch,
        **hparams})``).
    """

    arch: ClassVar[str] = ""
    context_slices = 1
    noise_level_input = False
    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.hparams: dict[str, Any] = {}


@dataclass(frozen=True)
class NetworkContract:
    """The input a network takes: see :class:`DenoisingNetwork`."""

    context_slices: int = 1
    noise_level_input: bool = False
    size_multiple: int = 1


def contract_of(network: nn.Module) -> NetworkContract:
    """The contract of ``network``: its own attributes, the defaults for any it lacks.

    Examples
    --------
    >>> from torch import nn
    >>> contract_of(nn.Identity())
    NetworkContract(context_slices=1, noise_level_input=False, size_multiple=1)
    """
    net = getattr(network, "module", network)  # DistributedDataParallel / DataParallel
    if isinstance(net, DenoisingNetwork):
        return NetworkContract(net.context_slices, net.noise_level_input, net.size_multiple)
    default = NetworkContract()
    return NetworkContract(  # a network of the user's own, or one optimised for inference
        int(getattr(net, "context_slices", default.context_slices)),
        bool(getattr(net, "noise_level_input", default.noise_level_input)),
        int(getattr(net, "size_multiple", default.size_multiple)),
    )
