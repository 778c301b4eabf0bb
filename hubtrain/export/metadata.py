"""The export directory's description, `hubtrain_export.json`: what is written, and reading it
back with errors that say what is wrong with the directory and how to fix it."""
from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["FORMAT", "FORMAT_VERSION", "METADATA_FILE", "TOKENIZER_DIR", "ExportFormatError", "read_metadata",
           "output_meaning", "is_export_dir"]

FORMAT = "hubtrain-export"
FORMAT_VERSION = 1
METADATA_FILE = "hubtrain_export.json"
TOKENIZER_DIR = "tokenizer"

_MEANINGS = {
    ("classifier", "probs"): "class probabilities (softmax of the logits), [batch, classes], in label order",
    ("classifier", "logits"): "class scores before the softmax, [batch, classes], in label order",
    ("multi_label", "probs"): "per-label probabilities (sigmoid of each logit), [batch, labels]; a label "
                              "applies at >= 0.5",
    ("multi_label", "logits"): "per-label scores before the sigmoid, [batch, labels]",
    ("regression", "pred"): "the predicted value, [batch, 1]",
    ("sequence_label", "emissions"): "tag scores per token, [batch, tokens, tags]",
    ("sequence_label", "tag_ids"): "tag id per token (argmax, or Viterbi under a CRF), [batch, tokens]; "
                                   "position 0 is [CLS]",
    ("sequence_label", "seq_len"): "real tokens per example, [CLS] and [SEP] included, [batch]",
    ("reading_comprehension", "start_logits"): "answer-start score per token, [batch, tokens]",
    ("reading_comprehension", "end_logits"): "answer-end score per token, [batch, tokens]",
}


class ExportFormatError(ValueError):
    """A directory that is not a hubtrain export, or one this version cannot read."""


def output_meaning(kind: str, name: str, index: int) -> str:
    return _MEANINGS.get((kind, name), f"output {index} of the network")


def is_export_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, METADATA_FILE))


def read_metadata(directory: str) -> dict:
    """The export's metadata, checked: the directory, the metadata file, its format and version,
    and the model files it names must all be there."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{directory}: no such export directory; write one with task.export('{directory}').")
    path = os.path.join(directory, METADATA_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory}: not a hubtrain export ({METADATA_FILE} is missing); write it with "
                                f"task.export('{directory}').")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportFormatError(f"{path}: cannot be read as JSON ({e}); export the task again.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ExportFormatError(f"{path}: not a hubtrain export description (its 'format' is not {FORMAT!r}); "
                                f"export the task again with task.export(...).")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ExportFormatError(f"{path}: format_version {version!r} is not a whole number; export the task again.")
    if version > FORMAT_VERSION:
        raise ExportFormatError(f"{path}: export format version {version} is newer than this hubtrain reads "
                                f"(up to {FORMAT_VERSION}); upgrade hubtrain (pip install -U hubtrain), or export "
                                f"with the hubtrain version you run.")
    for key in ("program", "params"):
        name = meta.get("model", {}).get(key)
        if not name or not os.path.isfile(os.path.join(directory, name)):
            raise FileNotFoundError(f"{directory}: the model file {name!r} ({key}) named in {METADATA_FILE} is "
                                    f"missing; copy the whole export directory, or export the task again.")
    return meta


def write_metadata(directory: str, meta: dict) -> None:
    with open(os.path.join(directory, METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False, default=_plain)
        f.write("\n")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (labels, means) as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
