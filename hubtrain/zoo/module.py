"""hub.Module: a pretrained backbone Layer, its preprocessing, and its named feature outputs."""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
from typing import Any, Optional, Union

import numpy as np
import paddle
from paddle.static import InputSpec

from ..engine.report import log, quiet_paddlenlp
from . import registry
from .feature import FeatureRef
from .registry import MODULE_FILE, ModuleUnavailableError, ZooEntry
from .text import TextBackbone, is_pretrained_dir, load_text_model, text_input_specs
from .vision import IMAGENET_MEAN, IMAGENET_STD, VisionBackbone, image_input_spec
from .word import network_from_info, word_input_specs

__all__ = ["Module", "MODULE_FILE", "WEIGHTS_FILE", "read_weights", "write_weights"]

WEIGHTS_FILE = "model.safetensors"  # what hubtrain writes; model.pdparams of older caches is still read
_CONTEXT_OPTIONS = ("num_slots", "return_list", "version")
# ERNIE Tiny's sentencepiece model and word dictionary, by paddlenlp's (and PaddleHub 1.x's assets') file names
SPM_FILE, WORD_DICT_FILE = "spm_cased_simp_sampled.model", "dict.wordseg.pickle"


class Module:
    """`hub.Module(name=...)` or `hub.Module(directory=...)`.

    A text module wraps a paddlenlp encoder and its tokenizer; a vision module a
    paddle.vision.models network cut before its classifier; a word module a Senta-style BiLSTM
    over a word vocabulary (zoo/word.py). `context()` gives PaddleHub's `(inputs, outputs,
    program)`, whose outputs are what tasks take as `feature`. A name is a zoo name or any
    directory under `$HUBTRAIN_HOME/modules`.
    """

    def __init__(self, name: Optional[str] = None, directory: Optional[str] = None, version: Optional[str] = None,
                 pretrained: Union[bool, str] = True) -> None:
        if (name is None) == (directory is None):
            raise ValueError("pass exactly one of name=... (hub.zoo.list() names them) or directory=... "
                             "(a module directory, e.g. one written by paddlenlp's save_pretrained).")
        self.name = name or os.path.basename(os.path.normpath(directory))
        self.version = version
        self.directory: Optional[str] = None
        self.info: dict = {}
        self.tokenizer: Any = None
        self.max_seq_len: Optional[int] = None
        if directory is not None:
            self._load_directory(directory)
        else:
            self._load_name(registry.get(name), pretrained)

    # ------------------------------------------------------------------ loading
    def _load_name(self, entry: ZooEntry, pretrained: Union[bool, str]) -> None:
        if isinstance(pretrained, str):
            if os.path.isdir(pretrained):
                return self._load_directory(pretrained)
            if entry.arch is None:
                raise ValueError(f"pretrained={pretrained!r} is not a directory; a text module loads from a "
                                 f"directory written by save_pretrained.")
            return self._load_vision(entry.arch, {}, pretrained, {})
        if pretrained is False and entry.arch is not None:
            return self._load_vision(entry.arch, {}, None, {})
        directory = entry.directory or (entry.cache_dir if registry.directory_kind(entry.cache_dir) else None)
        if directory is None:
            directory = _obtain(entry)
        self._load_directory(directory, pretrained=pretrained is not False)

    def _load_directory(self, directory: str, pretrained: bool = True) -> None:
        directory = os.path.abspath(os.path.expanduser(directory))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"module directory not found: {directory}")
        self.directory = directory
        self.info = _read_info(directory)
        kind = self.info.get("type") or ("text" if is_pretrained_dir(directory) else None)
        if kind == "text":
            self._load_text(directory, pretrained)
        elif kind == "word":
            self._load_word(directory)
        elif kind == "vision":
            arch = self.info.get("arch")
            if not arch:
                raise ValueError(f"{os.path.join(directory, MODULE_FILE)}: a vision module needs \"arch\" "
                                 f"(a paddle.vision.models name such as \"mobilenet_v2\").")
            weights = os.path.join(directory, self.info.get("weights", "model.pdparams"))
            self._load_vision(arch, self.info.get("arch_kwargs", {}), weights, self.info)
        else:
            raise FileNotFoundError(
                f"{directory} is not a module directory: expected paddlenlp's save_pretrained files "
                f"(config.json or model_config.json, model_state.pdparams, vocab.txt/tokenizer_config.json) "
                f"for a text module, or {MODULE_FILE} with \"type\": \"vision\" and its weights file.")

    def _load_text(self, directory: str, pretrained: bool = True) -> None:
        for needed, choices in (("a config", ("config.json", "model_config.json")),
                                ("the weights", ("model_state.pdparams", "model.safetensors")),
                                ("the tokenizer's vocabulary", ("vocab.txt", "tokenizer_config.json",
                                                                "sentencepiece.bpe.model", "vocab.json"))):
            if not any(os.path.exists(os.path.join(directory, c)) for c in choices):
                raise FileNotFoundError(f"{directory}: missing {needed} ({' or '.join(choices)}); save the "
                                        f"model and its tokenizer there with save_pretrained(directory).")
        model, self.tokenizer = load_text_model(directory, pretrained)
        self.kind = "text"
        self.backbone = TextBackbone(model, pooling=self.info.get("pooling", "cls"))
        config = model.config
        self.hidden_size = int(config.hidden_size)
        self.max_position = int(getattr(config, "max_position_embeddings", 512))
        self.max_seq_len = int(self.info.get("max_seq_len", min(128, self.max_position)))

    def _load_word(self, directory: str) -> None:
        source = os.path.join(directory, MODULE_FILE)
        for key in ("vocab", "weights"):
            path = os.path.join(directory, self.info.get(key, {"vocab": "vocab.txt", "weights": WEIGHTS_FILE}[key]))
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{directory}: missing the word module's {key} file {os.path.basename(path)}; "
                                        f"write the module again with `hubtrain zoo build-word`.")
        self.kind = "word"
        self.backbone = network_from_info(self.info, source)
        weights = os.path.join(directory, self.info.get("weights", WEIGHTS_FILE))
        self.backbone.load_weights(read_weights(weights), weights)
        self.hidden_size = self.backbone.hid_dim2
        self.max_seq_len = int(self.info.get("max_seq_len", 128))

    def _load_vision(self, arch: str, arch_kwargs: dict, weights: Optional[str], info: dict) -> None:
        self.kind = "vision"
        self.backbone = VisionBackbone(arch, {k: v for k, v in arch_kwargs.items() if k != "num_classes"})
        size = info.get("image_size", [224, 224])
        self.image_height, self.image_width = (size, size) if isinstance(size, int) else size
        self.mean = tuple(info.get("mean", IMAGENET_MEAN))
        self.std = tuple(info.get("std", IMAGENET_STD))
        if weights is not None:
            if not os.path.exists(weights):
                raise FileNotFoundError(f"weights file not found: {weights}")
            unused = self.backbone.load_weights(read_weights(weights), weights)
            if unused:
                log("INFO", f"{self.name}: {len(unused)} tensors of {os.path.basename(weights)} are not part of "
                    f"the backbone (its ImageNet classifier) and were left out", logging.DEBUG)

    # ------------------------------------------------------------------ PaddleHub's API
    def context(self, trainable: bool = True, max_seq_len: Optional[int] = None, **options: Any
                ) -> tuple[dict, dict, paddle.nn.Layer]:
        """(inputs, outputs, program): inputs are InputSpecs by name (their `.name` makes PaddleHub's
        feed_list), outputs are the features tasks take, program is the backbone Layer.
        `trainable=False` freezes the backbone."""
        unknown = sorted(set(options) - set(_CONTEXT_OPTIONS))
        if unknown:
            raise TypeError(f"context() got unknown option(s) {unknown}; it takes trainable, max_seq_len"
                            f" and PaddleHub's {', '.join(_CONTEXT_OPTIONS)}.")
        if options.get("num_slots", 1) != 1:
            raise ValueError(f"{self.name}: num_slots={options['num_slots']} is for PaddleHub's matching "
                             f"modules; this module has one input slot.")
        if self.kind == "text" and max_seq_len is not None:
            if not 2 <= int(max_seq_len) <= self.max_position:
                raise ValueError(f"max_seq_len={max_seq_len} is outside [2, {self.max_position}], the "
                                 f"positions {self.name} was trained with.")
            self.max_seq_len = int(max_seq_len)
        if self.kind == "word" and max_seq_len is not None:
            if int(max_seq_len) < 1:
                raise ValueError(f"max_seq_len={max_seq_len}: a word module reads at least 1 word; use e.g. 128.")
            self.max_seq_len = int(max_seq_len)
        self.backbone.set_trainable(trainable)
        inputs, outputs = self._outputs()
        return inputs, outputs, self.backbone

    def _outputs(self) -> tuple[dict, dict]:
        """The input specs by name and the named features, trainability untouched."""
        if self.kind == "text":
            specs = text_input_specs()
            outputs = {"sequence_output": self._feature(0, "sequence_output", specs, self.hidden_size),
                       "pooled_output": self._feature(1, "pooled_output", specs, self.hidden_size)}
        elif self.kind == "word":
            specs = word_input_specs()
            outputs = {"sentence_feature": self._feature(1, "sentence_feature", specs, self.hidden_size),
                       "sequence_output": self._feature(0, "sequence_output", specs, 2 * self.backbone.hid_dim)}
        else:
            specs = image_input_spec(self.image_height, self.image_width)
            outputs = {"feature_map": self._feature(0, "feature_map", specs, None),
                       "pooled_feature": self._feature(1, "pooled_feature", specs, None)}
        return {spec.name: spec for spec in specs}, outputs

    def _feature(self, index: int, name: str, specs: list[InputSpec], dim: Optional[int]) -> FeatureRef:
        return FeatureRef(self.backbone, index, dim=dim, input_spec=list(specs), name=name)

    def as_feature(self) -> FeatureRef:
        """What a task reads when given the module itself: pooled_output, sentence_feature, or the feature map."""
        default = {"text": "pooled_output", "word": "sentence_feature"}.get(self.kind, "feature_map")
        return self._outputs()[1][default]

    @property
    def trainable(self) -> bool:
        return any(not p.stop_gradient for p in self.backbone.parameters())

    def get_vocab_path(self) -> Optional[str]:
        """The tokenizer's vocab.txt (a word module's word vocabulary); None when there is none."""
        name = self.info.get("vocab", "vocab.txt") if self.kind == "word" else "vocab.txt"
        return self._own_file(name)

    def get_spm_path(self) -> Optional[str]:
        """ERNIE Tiny's sentencepiece model (spm_cased_simp_sampled.model, or the file
        hubtrain_module.json names as "spm_path"); None for modules without one."""
        return self._own_file(self.info.get("spm_path", SPM_FILE))

    def get_word_dict_path(self) -> Optional[str]:
        """ERNIE Tiny's word dictionary for segmentation (dict.wordseg.pickle, or "word_dict_path" of
        hubtrain_module.json); None for modules without one."""
        return self._own_file(self.info.get("word_dict_path", WORD_DICT_FILE))

    def _own_file(self, name: str) -> Optional[str]:
        """A file of the module directory (or of its assets/ folder, PaddleHub 1.x's layout), or None."""
        if self.directory is None:
            return None
        for folder in (self.directory, os.path.join(self.directory, "assets")):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
        return None

    def get_expected_image_width(self) -> int:
        return self._vision_only("image_width")

    def get_expected_image_height(self) -> int:
        return self._vision_only("image_height")

    def get_pretrained_images_mean(self) -> np.ndarray:
        return np.asarray(self._vision_only("mean"), dtype="float32")

    def get_pretrained_images_std(self) -> np.ndarray:
        return np.asarray(self._vision_only("std"), dtype="float32")

    def _vision_only(self, attr: str) -> Any:
        if self.kind != "vision":
            raise AttributeError(f"{self.name} is a {self.kind} module; image sizes and statistics belong to "
                                 f"vision modules.")
        return getattr(self, attr)

    # ------------------------------------------------------------------ saving
    def save(self, directory: str) -> str:
        """Write this module as a directory `hub.Module(directory=...)` loads (weights as they are now)."""
        os.makedirs(os.path.dirname(os.path.abspath(directory)) or ".", exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".module-", dir=os.path.dirname(os.path.abspath(directory)))
        try:
            if self.kind == "text":
                self.backbone.model.save_pretrained(tmp, safe_serialization=True)
                self.tokenizer.save_pretrained(tmp)
                info = dict(self.info, type="text", pooling=self.backbone.pooling, max_seq_len=self.max_seq_len)
            elif self.kind == "word":
                shutil.copyfile(self.get_vocab_path(), os.path.join(tmp, "vocab.txt"))
                write_weights(self.backbone.state_dict(), os.path.join(tmp, WEIGHTS_FILE))
                info = dict(self.info, vocab="vocab.txt", weights=WEIGHTS_FILE, max_seq_len=self.max_seq_len)
            else:
                write_weights(self.backbone.body.state_dict(), os.path.join(tmp, WEIGHTS_FILE))
                info = dict(self.info, type="vision", arch=self.backbone.arch, weights=WEIGHTS_FILE,
                            image_size=[self.image_height, self.image_width], mean=list(self.mean),
                            std=list(self.std))
            with open(os.path.join(tmp, MODULE_FILE), "w", encoding="utf-8") as f:
                json.dump(info, f, indent=2)
            if os.path.exists(directory):
                shutil.rmtree(directory)
            os.replace(tmp, directory)
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
        return directory

    def __repr__(self) -> str:
        where = self.directory or "random weights"
        return f"Module(name={self.name!r}, kind={self.kind!r}, from={where})"


def write_weights(state: dict, path: str) -> None:
    """A vision module's weights as safetensors: data only, so reading them back never runs code."""
    import safetensors.numpy

    safetensors.numpy.save_file({k: np.ascontiguousarray(np.asarray(v)) for k, v in state.items()}, path)


def read_weights(path: str) -> dict:
    """A vision module's weights: safetensors, or a Paddle pickle (.pdparams) read without running
    code from it (a pickle that would is refused with UnsafeFileError)."""
    from ..serialization.paddle_pickle import load_paddle_file
    from .convert import load_safetensors

    if path.endswith(".safetensors"):
        return load_safetensors(path)
    state = load_paddle_file(path, return_numpy=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a dict of tensors: give the weights saved with "
                         f"paddle.save(model.state_dict(), path).")
    return state


def _read_info(directory: str) -> dict:
    path = os.path.join(directory, MODULE_FILE)
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); fix or delete the file.") from exc
    if not isinstance(info, dict):
        raise ValueError(f"{path}: expected a JSON object.")
    return info


def _network_reachable(host: str = "bj.bcebos.com", timeout: float = 2.0) -> bool:
    """paddlenlp downloads from Baidu's object storage; ask once, quickly, before trying."""
    if os.environ.get("HUBTRAIN_OFFLINE", "") not in ("", "0"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _obtain(entry: ZooEntry) -> str:
    """Write `entry`'s module directory into the cache: built offline, or downloaded by paddlenlp."""
    target = entry.cache_dir
    builder = entry.builder()
    if builder is not None:
        log("INFO", f"{entry.name}: writing the module directory {target} (once)")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with quiet_paddlenlp():
            return builder(target)
    if entry.paddlenlp_name is not None and _network_reachable():
        model, tokenizer = load_text_model(entry.paddlenlp_name)
        os.makedirs(target, exist_ok=True)
        with quiet_paddlenlp():
            model.save_pretrained(target, safe_serialization=True)
            tokenizer.save_pretrained(target)
        return target
    if entry.arch is None and entry.paddlenlp_name is None:
        raise ModuleUnavailableError(f"cannot load {entry.name!r}: it is not in {target}. {entry.instructions}".rstrip())
    if entry.paddlenlp_name is not None:
        raise ModuleUnavailableError(
            f"cannot load {entry.name!r}: it is not in {target} and paddlenlp's model hub (name "
            f"{entry.paddlenlp_name!r}) is unreachable from here. On a machine with a network, run "
            f"paddlenlp.transformers.AutoModel.from_pretrained({entry.paddlenlp_name!r}).save_pretrained(DIR) and "
            f"the same with AutoTokenizer, then copy DIR to {target} or pass hub.Module(directory=DIR).")
    raise ModuleUnavailableError(
        f"no pretrained weights for {entry.name!r} here. Put a module directory at {target} "
        f"({MODULE_FILE} with \"type\": \"vision\", \"arch\": \"{entry.arch}\", and {WEIGHTS_FILE} or "
        f"model.pdparams), pass pretrained=<a weights file or module directory>, or use pretrained=False for random "
        f"weights.")
