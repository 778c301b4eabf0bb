"""Layer blocks: a network's trainable parameters cut into contiguous groups from the input up,
for discriminative learning rates and gradual unfreezing.

The unit is a layer of the network's longest-running stacks (a transformer layer, a MobileNet
stage): every item of a `LayerList`/`Sequential` is one unit, and a layer with no stack inside
is one unit whole. Units follow the order the network registers its layers, which for the zoo's
backbones (embeddings, encoder layers, pooler; stem, stages) and a task's head is input to output.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import paddle.nn as nn

__all__ = ["Unit", "layer_units", "split_blocks"]

Unit = tuple[str, list[str]]  # (layer path, structured names of its trainable parameters)

_STACKS = (nn.LayerList, nn.Sequential)


def _has_stack(layer: nn.Layer) -> bool:
    return any(isinstance(sub, _STACKS) for sub in layer.sublayers())


def _walk(layer: nn.Layer, path: str) -> Iterator[tuple[str, nn.Layer]]:
    """(path, layer) of every unit under `layer`."""
    if isinstance(layer, _STACKS):
        for name, item in layer.named_children():
            yield f"{path}.{name}" if path else name, item
        return
    if not _has_stack(layer):
        yield path, layer
        return
    own = [n for n, _ in layer.named_parameters(include_sublayers=False)]
    if own:
        yield path, _Own(layer)
    for name, child in layer.named_children():
        yield from _walk(child, f"{path}.{name}" if path else name)


class _Own:
    """Stands for a layer's own parameters when its sublayers form units of their own."""

    def __init__(self, layer: nn.Layer) -> None:
        self.layer = layer

    def named_parameters(self, prefix: str = "") -> list:
        return [(f"{prefix}.{n}" if prefix else n, p) for n, p in self.layer.named_parameters(include_sublayers=False)]


def layer_units(network: nn.Layer, trainable_only: bool = True) -> list[Unit]:
    """The network's units, input side first, each with its (trainable) parameters' names."""
    units = []
    for path, layer in _walk(network, ""):
        names = [name for name, p in layer.named_parameters(prefix=path)
                 if not (trainable_only and p.stop_gradient)]
        if names:
            units.append((path, names))
    return units


def split_blocks(units: list[Unit], n_blocks: int) -> list[list[Unit]]:
    """`n_blocks` contiguous blocks of units (bottom first); sizes differ by at most one unit,
    the lower blocks taking the extra ones. Fewer blocks when there are fewer units."""
    n = min(n_blocks, len(units))
    if n == 0:
        return []
    bounds = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(len(units)), n)])
    return [units[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
