"""Objects a run file's sections describe: dataset, module, reader, task. A value a library
refuses becomes a RunFileError naming the section's key."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from .errors import RunFileError
from .runfile import join_path
from .schema import blame, dataset_classes, default_reader, reader_classes, task_classes

__all__ = ["build_dataset", "build_module", "build_reader", "build_task", "default_feature"]

_REFUSALS = (ValueError, TypeError, FileNotFoundError)


def _made(section: str, what: str, make: Callable[[], Any], keys: Any) -> Any:
    try:
        return make()
    except RunFileError:
        raise
    except _REFUSALS as e:
        key = blame(str(e), keys)
        message = str(e) if str(e).startswith(what) else f"{what}: {e}"
        raise RunFileError(join_path(section, key) if key else section, message) from e


def build_dataset(section: dict) -> Any:
    options = dict(section)
    cls = dataset_classes()[options.pop("class")]
    few = options.pop("few_shot", None)
    dataset = _made("dataset", cls.__name__, lambda: cls(**options), options)
    if few:
        per_label, seed = (few["per_label"], few.get("seed", 0)) if isinstance(few, dict) else (few, 0)
        dataset = _made("dataset.few_shot", "few_shot", lambda: dataset.few_shot(per_label, seed), ())
    return dataset


def build_module(section: dict) -> Any:
    from ..zoo import Module

    options = {k: v for k, v in section.items() if k in ("name", "directory", "version", "pretrained")}
    what = f"module {options.get('name') or options.get('directory')}"
    return _made("module", what, lambda: Module(**options), options)


def default_feature(task_class: str, kind: str) -> str:
    if kind == "vision":
        return "feature_map"
    return "sequence_output" if task_class in ("SequenceLabelTask", "ReadingComprehensionTask") else "pooled_output"


def build_reader(run: dict, module: Any, dataset: Any) -> Any:
    """The reader for the task's kind, fed the module's tokenizer or image statistics."""
    section = dict(run.get("reader") or {})
    task_class = run["task"]["class"]
    name = section.pop("class", None) or default_reader(task_class, module.kind)
    cls = reader_classes()[name]
    if module.kind == "vision":
        section.setdefault("images_mean", list(module.mean))
        section.setdefault("images_std", list(module.std))

        def make() -> Any:
            return cls(image_width=module.get_expected_image_width(), image_height=module.get_expected_image_height(),
                       dataset=dataset, **section)
    else:
        max_seq_len = run["task"].get("max_seq_len") or module.max_seq_len

        def make() -> Any:
            return cls(dataset=dataset, vocab_path=module.get_vocab_path(), tokenizer=module.tokenizer,
                       max_seq_len=max_seq_len, **section)
    return _made("reader", name, make, section)


def build_task(run: dict, module: Any, reader: Any, dataset: Any, config: Any) -> Any:
    section = dict(run["task"])
    cls = task_classes()[section.pop("class")]
    feature_name = section.pop("feature", None) or default_feature(cls.__name__, module.kind)
    max_seq_len: Optional[int] = section.pop("max_seq_len", None)
    trainable = run["module"].get("trainable", True)
    _, outputs, _ = _made("task", "module.context", lambda: module.context(trainable=trainable,
                                                                            max_seq_len=max_seq_len),
                          {"max_seq_len": max_seq_len, "trainable": trainable})
    params = inspect.signature(cls.__init__).parameters
    if "num_classes" in params and "num_classes" not in section:
        section["num_classes"] = dataset.num_labels
    if "max_seq_len" in params:
        section["max_seq_len"] = max_seq_len or getattr(reader, "max_seq_len", None)
    return _made("task", cls.__name__, lambda: cls(feature=outputs[feature_name], data_reader=reader, config=config,
                                                   **section), section)
