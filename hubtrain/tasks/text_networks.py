"""PaddleHub 1.x's predefined text networks (`TextClassifierTask(network="bilstm", ...)`): a
network over the backbone's per-token feature that gives one vector per text, masked so that
padding never counts.

hubtrain pads each batch to its own longest text, so the networks must know which tokens are
real. `TokenFeatures` wraps the backbone so the feature the head reads carries the input mask
as one more channel, `[N, T, H + 1]` (1 on real tokens, 0 on padding): one tensor, so the
network still exports, converts with to_static, and passes through a frozen backbone's feature
cache like any feature. Each network reads the real tokens only: the same text gives the same
vector whatever the batch's length.

The shapes follow PaddleHub 1.7's `paddlehub/network/classification.py` (output size last):

- bow: the sum of the tokens, tanh, fc 128 tanh, fc 96 tanh (96)
- cnn: conv (width 3, 128 filters) tanh, max over time, fc 128 (128)
- lstm: LSTM 128, max over time, tanh, fc 96 tanh (96)
- bilstm: LSTM 128 each way, the two final states, fc 96 tanh (96)
- gru: GRU 128, max over time, tanh, fc 96 tanh (96)
- dpcnn: region embedding (conv width 3, 250 channels), a residual block of two convs, then 6
  times max-pool (3, stride 2) and a residual block; max over time, fc 128 tanh (128)

(PaddleHub 1.x projected the tokens with an fc before its LSTM/GRU ops, which took projected
inputs; paddle's LSTM and GRU hold that projection themselves. Its bilstm took the reverse
LSTM's state at the last token, which has read one token; here the reverse direction's final
state, which has read the whole text. Its dpcnn read the padding as tokens, so a text's class
could change with the batch it was in.)
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..zoo.feature import FeatureRef
from ..zoo.text import pad_mask
from .net import mask_input_index, named_inputs, with_signature

__all__ = ["NETWORKS", "TokenFeatures", "masked_token_feature", "build_network", "split_mask"]

NETWORKS = ("bilstm", "bow", "cnn", "dpcnn", "gru", "lstm")


class TokenFeatures(nn.Layer):
    """The backbone, then its per-token feature `[N, T, H]` with the input mask appended as a last
    channel: `[N, T, H + 1]`. The mask is the backbone's `input_mask` (or `attention_mask`)
    input; when a batch leaves it out, the backbone's padding id marks the padding (as the text
    backbone itself does), and a backbone with neither counts every position as a token."""

    def __init__(self, feature: FeatureRef) -> None:
        super().__init__()
        self.backbone = feature.backbone
        self._select = feature.select
        params = named_inputs(feature.backbone)
        self.mask_index = mask_input_index(params)
        if params:  # show the backbone's inputs (TaskNet and paddle.jit read them from the signature)
            self.forward = with_signature(TokenFeatures.forward, self, params)

    def forward(self, *inputs: paddle.Tensor) -> paddle.Tensor:
        tokens = self._select(self.backbone(*inputs))
        at = self.mask_index
        if at is not None and len(inputs) > at and inputs[at] is not None:
            mask = inputs[at]
        else:
            mask = pad_mask(inputs[0], getattr(self.backbone, "pad_token_id", None))
        return paddle.concat([tokens, mask.astype(tokens.dtype).unsqueeze(-1)], axis=-1)


def masked_token_feature(ref: FeatureRef, dim: int) -> FeatureRef:
    """A feature reading `ref` (a per-token feature of `dim` channels) with its mask channel."""
    return FeatureRef(TokenFeatures(ref), None, dim=dim, input_spec=ref.input_spec, name=ref.name)


def split_mask(feature: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
    """`[N, T, H + 1]` -> tokens `[N, T, H]` (zero at padding) and mask `[N, T]` (1.0 on real tokens)."""
    mask = feature[:, :, -1]
    return feature[:, :, :-1] * mask.unsqueeze(-1), mask


def _lengths(mask: paddle.Tensor) -> paddle.Tensor:
    return mask.sum(axis=1).astype("int64")


def _max_over_time(values: paddle.Tensor, mask: paddle.Tensor, axis: int = 1) -> paddle.Tensor:
    """The largest value over the real positions (`mask` [N, T] broadcast along the channels)."""
    keep = (mask.unsqueeze(-1) if axis == 1 else mask.unsqueeze(1)) > 0
    floor = paddle.full_like(values, float("-inf"))
    return paddle.where(keep, values, floor).max(axis=axis)


class _Network(nn.Layer):
    """A predefined network: feature `[N, T, H + 1]` -> `[N, output_dim]`."""

    output_dim = 0

    def forward(self, feature: paddle.Tensor) -> paddle.Tensor:
        tokens, mask = split_mask(feature)
        return self.encode(tokens, mask)

    def encode(self, tokens: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        raise NotImplementedError


class BoW(_Network):
    """Bag of words: the real tokens summed."""

    def __init__(self, dim: int, hid_dim: int = 128, hid_dim2: int = 96) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hid_dim), nn.Linear(hid_dim, hid_dim2)
        self.output_dim = hid_dim2

    def encode(self, tokens: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        summed = paddle.tanh(tokens.sum(axis=1))  # padding is zero: the sum is over the real tokens
        return paddle.tanh(self.fc2(paddle.tanh(self.fc1(summed))))


class CNN(_Network):
    """One convolution over the tokens, the largest value of each filter over the text."""

    def __init__(self, dim: int, hid_dim: int = 128, win_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1D(dim, hid_dim, win_size, padding=win_size // 2)
        self.fc = nn.Linear(hid_dim, hid_dim)
        self.output_dim = hid_dim

    def encode(self, tokens: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        conv = paddle.tanh(self.conv(tokens.transpose([0, 2, 1])))  # [N, hid, T]; padding reads as the edge's zeros
        return self.fc(_max_over_time(conv, mask, axis=2))


class _Recurrent(_Network):
    """An LSTM or GRU over the real tokens; max over time (or, two-way, the final states)."""

    def __init__(self, cell: type, dim: int, hid_dim: int = 128, hid_dim2: int = 96, both_ways: bool = False) -> None:
        super().__init__()
        self.both_ways = both_ways
        self.rnn = cell(dim, hid_dim, direction="bidirect" if both_ways else "forward")
        self.fc = nn.Linear(hid_dim * (2 if both_ways else 1), hid_dim2)
        self.output_dim = hid_dim2

    def encode(self, tokens: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        outputs, states = self.rnn(tokens, sequence_length=_lengths(mask))
        if self.both_ways:
            last = states[0] if isinstance(states, (list, tuple)) else states  # an LSTM's (h, c): h
            return paddle.tanh(self.fc(paddle.concat([last[-2], last[-1]], axis=-1)))
        return paddle.tanh(self.fc(paddle.tanh(_max_over_time(outputs, mask))))


class DPCNN(_Network):
    """Deep pyramid CNN (Johnson and Zhang, ACL 2017). Every conv's output is zeroed past each
    text's length, and pooling windows see padding as nothing (as they see the edge), so a text
    gives the same vector padded or not."""

    def __init__(self, dim: int, hid_dim: int = 128, channel_size: int = 250, blocks: int = 6) -> None:
        super().__init__()
        self.region = nn.Conv1D(dim, channel_size, 3, padding=1)
        self.convs = nn.LayerList([nn.Conv1D(channel_size, channel_size, 3, padding=1)
                                   for _ in range(2 * (blocks + 1))])
        self.blocks = blocks
        self.fc = nn.Linear(channel_size, hid_dim)
        self.output_dim = hid_dim

    def _block(self, x: paddle.Tensor, keep: paddle.Tensor, index: int) -> paddle.Tensor:
        x = self.convs[2 * index](F.relu(x)) * keep
        return self.convs[2 * index + 1](F.relu(x)) * keep

    def encode(self, tokens: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        lengths = _lengths(mask)
        keep = mask.unsqueeze(1)  # [N, 1, T]
        region = self.region(tokens.transpose([0, 2, 1])) * keep  # [N, C, T]
        features = self._block(region, keep, 0) + region
        for index in range(1, self.blocks + 1):
            floor = paddle.full_like(features, float("-inf"))
            pooled = F.max_pool1d(paddle.where(keep > 0, features, floor), kernel_size=3, stride=2, padding=1)
            lengths = (lengths - 1) // 2 + 1  # the pooled length of each text on its own
            steps = paddle.arange(pooled.shape[2], dtype="int64").unsqueeze(0)
            keep = (steps < lengths.unsqueeze(1)).astype(pooled.dtype).unsqueeze(1)
            pooled = paddle.where(keep > 0, pooled, paddle.zeros_like(pooled))
            features = self._block(pooled, keep, index) + pooled
        return paddle.tanh(self.fc(_max_over_time(features, keep.squeeze(1), axis=2)))


def build_network(name: str, dim: int) -> _Network:
    """The predefined network `name` over tokens of `dim` channels."""
    if name == "bow":
        return BoW(dim)
    if name == "cnn":
        return CNN(dim)
    if name == "dpcnn":
        return DPCNN(dim)
    if name in ("lstm", "bilstm"):
        return _Recurrent(nn.LSTM, dim, both_ways=name == "bilstm")
    if name == "gru":
        return _Recurrent(nn.GRU, dim)
    raise ValueError(f"network={name!r} is not a predefined network: choose one of {', '.join(NETWORKS)}.")

