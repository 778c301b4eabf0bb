"""Text backbones through paddlenlp, behind one fixed signature that the text readers feed."""
from __future__ import annotations

import os
from typing import Any, Optional

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from ..engine.report import quiet_paddlenlp

__all__ = ["TextBackbone", "TEXT_INPUTS", "text_input_specs", "pad_mask", "load_text_model", "is_pretrained_dir"]

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

    def forward(self, input_ids: paddle.Tensor, position_ids: Optional[paddle.Tensor] = None,
                segment_ids: Optional[paddle.Tensor] = None, input_mask: Optional[paddle.Tensor] = None
                ) -> tuple[paddle.Tensor, paddle.Tensor]:
        """`input_ids` alone is enough, as for paddlenlp's models: positions and segments left out
        get the encoder's own defaults (0..L-1 and zeros for BERT and ERNIE), a mask left out
        keeps every token but the padding (`pad_mask`)."""
        if paddle.in_dynamic_mode():
            _check_shapes(input_ids, position_ids=position_ids, segment_ids=segment_ids, input_mask=input_mask)
        if input_mask is None:
            input_mask = pad_mask(input_ids, self.pad_token_id)
        keep = input_mask.astype(paddle.get_default_dtype())
        additive = ((1.0 - keep) * -1e4).unsqueeze([1, 2])
        out = self.model(input_ids, token_type_ids=segment_ids, position_ids=position_ids,
                         attention_mask=additive)
        sequence_output, pooled_output = out[0], out[1]
        if self.pooling == "mean":
            weights = keep.unsqueeze(-1)
            pooled_output = (sequence_output * weights).sum(axis=1) / weights.sum(axis=1).clip(min=1.0)
        return sequence_output, pooled_output

    @property
    def pad_token_id(self) -> Optional[int]:
        """The padding token's id from the encoder's config (None when it names none)."""
        pad = getattr(getattr(self.model, "config", None), "pad_token_id", None)
        return None if pad is None else int(pad)


def pad_mask(input_ids: paddle.Tensor, pad_token_id: Optional[int]) -> paddle.Tensor:
    """1 for real tokens and 0 for padding, as paddlenlp masks when no attention mask is given;
    all ones when the encoder has no padding token."""
    if pad_token_id is None:
        return paddle.ones_like(input_ids, dtype="int64")
    return (input_ids != pad_token_id).astype("int64")


def _check_shapes(input_ids: paddle.Tensor, **optional: Optional[paddle.Tensor]) -> None:
    """Each given input must be one value per token: a label fed in an input's place would
    otherwise broadcast silently."""
    want = list(input_ids.shape)
    for name, value in optional.items():
        if value is not None and list(value.shape) != want:
            raise ValueError(f"{name} has shape {list(value.shape)}, but input_ids has {want}: give one value per "
                             f"token, or leave {name} out (inputs go in the order {', '.join(TEXT_INPUTS)}).")


def is_pretrained_dir(directory: str) -> bool:
    """A directory written by paddlenlp's `save_pretrained` (config plus weights)."""
    has_config = any(os.path.exists(os.path.join(directory, f)) for f in ("config.json", "model_config.json"))
    has_weights = any(os.path.exists(os.path.join(directory, f))
                      for f in ("model_state.pdparams", "model.safetensors"))
    return has_config and has_weights


_PICKLE_FIX = "Delete the file, or load the model from a directory that paddlenlp's save_pretrained wrote."


def _paddle_weights(directory: str) -> Optional[dict]:
    """The directory's weights when they are a Paddle pickle, read without running code from it;
    None when paddlenlp reads them itself without unpickling (safetensors) or finds none."""
    if any(os.path.isfile(os.path.join(directory, n)) for n in ("model.safetensors", "model.safetensors.index.json")):
        return None  # paddlenlp prefers these, and reads them with safetensors
    if os.path.isfile(os.path.join(directory, "model_state.pdparams.index.json")):
        raise ValueError(f"{directory}: sharded Paddle weights (model_state.pdparams.index.json) are pickles hubtrain "
                         f"does not read; in a process you trust, load the model and write it again with "
                         f"save_pretrained(directory, safe_serialization=True).")
    weights = os.path.join(directory, "model_state.pdparams")
    if not os.path.isfile(weights):
        return None
    from ..serialization.paddle_pickle import load_paddle_file

    return load_paddle_file(weights)


def load_text_model(source: str, pretrained: bool = True) -> tuple[nn.Layer, Any]:
    """A paddlenlp encoder and its tokenizer from a local directory (or a paddlenlp name, which
    needs the network). From a directory, nothing in it runs: a `model_state.pdparams` is read
    by hubtrain's restricted unpickler and handed to paddlenlp, and pickles among the tokenizer's
    files are checked to hold data only. Imported here: importing paddlenlp is slow and must not
    happen at `import hubtrain`."""
    from paddlenlp.transformers import AutoModel, AutoTokenizer

    local = os.path.isdir(source)
    state = _paddle_weights(source) if local and pretrained else None
    if local:
        from ..serialization.restricted_pickle import check_data_pickles

        check_data_pickles(source, _PICKLE_FIX, skip=("model_state.pdparams",))
    with quiet_paddlenlp():
        if pretrained:
            model = AutoModel.from_pretrained(source, **({} if state is None else {"state_dict": state}))
        else:  # the architecture from its config, freshly initialised
            from paddlenlp.transformers import AutoConfig
            model = AutoModel.from_config(AutoConfig.from_pretrained(source))
        tokenizer = AutoTokenizer.from_pretrained(source)
    return model, tokenizer
