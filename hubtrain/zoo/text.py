"""Text backbones through paddlenlp, behind one fixed signature that the text readers feed."""
from __future__ import annotations

import os
from typing import Any

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..engine.report import quiet_paddlenlp

__all__ = ["TextBackbone", "TEXT_INPUTS", "text_input_specs", "load_text_model", "is_pretrained_dir"]

# The readers' field order, which is also PaddleHub's feed_list order.
TEXT_INPUTS = ("input_ids", "position_ids", "segment_ids", "input_mask")
POOLINGS = ("cls", "mean")


def text_input_specs() -> list[InputSpec]:
    return [InputSpec([None, None], "int64", name) for name in TEXT_INPUTS]


class TextBackbone(nn.Layer):
    """A paddlenlp encoder -> (sequence_output, pooled_output).

    `pooling="cls"` uses the encoder's pooler on [CLS]; `"mean"` averages the real tokens' states,
    which is how sentence-embedding models (all-MiniLM-L6-v2) were trained. The pooler is then
    unused, so its parameters are frozen: multi-process training requires every trainable
    parameter to receive a gradient.
    """

    def __init__(self, model: nn.Layer, pooling: str = "cls") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
        self.model = model
        self.pooling = pooling
        self.set_trainable(True)

    def set_trainable(self, trainable: bool) -> None:
        """Train (or freeze) the encoder; an unused pooler stays frozen either way."""
        for param in self.parameters():
            param.stop_gradient = not trainable
        pooler = getattr(self.model, "pooler", None)
        if self.pooling == "mean" and isinstance(pooler, nn.Layer):
            for param in pooler.parameters():
                param.stop_gradient = True

    def forward(self, input_ids: paddle.Tensor, position_ids: paddle.Tensor, segment_ids: paddle.Tensor,
                input_mask: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        keep = input_mask.astype(paddle.get_default_dtype())
        additive = ((1.0 - keep) * -1e4).unsqueeze([1, 2])
        out = self.model(input_ids, token_type_ids=segment_ids, position_ids=position_ids,
                         attention_mask=additive)
        sequence_output, pooled_output = out[0], out[1]
        if self.pooling == "mean":
            weights = keep.unsqueeze(-1)
            pooled_output = (sequence_output * weights).sum(axis=1) / weights.sum(axis=1).clip(min=1.0)
        return sequence_output, pooled_output


def is_pretrained_dir(directory: str) -> bool:
    """A directory written by paddlenlp's `save_pretrained` (config plus weights)."""
    has_config = any(os.path.exists(os.path.join(directory, f)) for f in ("config.json", "model_config.json"))
    has_weights = any(os.path.exists(os.path.join(directory, f))
                      for f in ("model_state.pdparams", "model.safetensors"))
    return has_config and has_weights


def load_text_model(source: str, pretrained: bool = True) -> tuple[nn.Layer, Any]:
    """A paddlenlp encoder and its tokenizer from a local directory (or a paddlenlp name, which
    needs the network). Imported here: importing paddlenlp is slow and must not happen at
    `import hubtrain`."""
    from paddlenlp.transformers import AutoModel, AutoTokenizer

    with quiet_paddlenlp():
        if pretrained:
            model = AutoModel.from_pretrained(source)
        else:  # the architecture from its config, freshly initialised
            from paddlenlp.transformers import AutoConfig
            model = AutoModel.from_config(AutoConfig.from_pretrained(source))
        tokenizer = AutoTokenizer.from_pretrained(source)
    return model, tokenizer
