"""What a run file may say, checked before anything runs: every key known, every value of the
right kind, every path inside the workspace, no existing output overwritten unless asked, stage
class files that define the right class (read, not run), weights for every predict and export
entry, RunConfig options accepted by RunConfig itself. Each problem is one RunFileError naming
its key path (`runner[0].epochs`) and the fix."""
from __future__ import annotations

import difflib
import inspect
import json
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Optional

from ..config import RunConfig
from .classes import check_stage_file
from .errors import RunFileError
from .paths import absolute, check_export_dir, check_output_file, confine, is_path_key
from .runfile import join_path
from .stages import STAGES

__all__ = ["RunSpec", "EntrySpec", "validate", "blame", "TOP_KEYS", "ENTRY_KEYS", "CLASS_KEYS", "RUNNER_CLASSES",
           "ALIASES", "DEFAULT_READERS", "default_reader", "task_classes", "dataset_classes", "reader_classes",
           "strategy_classes"]

TOP_KEYS = ("workspace", "module", "dataset", "reader", "task", "strategy", "runner")
RUNNER_CLASSES = ("train", "evaluate", "predict", "export")
# Run-file names (PaddleRec's) for RunConfig options; RunConfig's own names are accepted too.
RUN_FILE_SEED = 42  # what an entry without `seed:` is seeded with
ALIASES = {"epochs": "num_epoch", "print_interval": "log_interval", "device": "use_cuda"}
_CONFIG_FIELDS = tuple(f.name for f in fields(RunConfig) if f.name != "strategy")
ENTRY_KEYS = ("name", "class", "init_model_path", *(f"{s}_class_path" for s in STAGES), *ALIASES, *_CONFIG_FIELDS)
CLASS_KEYS = {
    "train": ("evaluate", "export_dir", "keep_step_checkpoints", "confusion_matrix", "overwrite"),
    "evaluate": ("phases", "load_best_model", "confusion_matrix"),
    "predict": ("phase", "input_file", "output_file", "overwrite"),
    "export": ("export_dir", "onnx", "opset", "postprocess", "overwrite"),
}
SPLITS = ("train", "dev", "test", "predict")
DEFAULT_READERS = {"TextClassifierTask": "ClassifyReader", "MultiLabelClassifierTask": "MultiLabelClassifyReader",
                   "RegressionTask": "RegressionReader", "SequenceLabelTask": "SequenceLabelReader",
                   "ReadingComprehensionTask": "ReadingComprehensionReader",
                   "ImageClassifierTask": "ImageClassificationReader"}
MODULE_KEYS = ("name", "directory", "version", "pretrained", "trainable")
FEATURES = {"text": ("pooled_output", "sequence_output"), "vision": ("feature_map", "pooled_feature")}
# Filled in by the network stage, never by the run file.
_TASK_SET = ("self", "feature", "data_reader", "config", "inputs", "feed_list")
_READER_SET = ("self", "dataset", "vocab_path", "tokenizer", "max_seq_len", "image_width", "image_height")
# Entry keys that bring weights into the shared network, or stages that may (a user's own).
_WEIGHT_KEYS = ("init_model_path", "network_class_path", "startup_class_path", "runner_class_path")


# ---------------------------------------------------------------------------- the catalogues
def _catalogue(namespace: Any, names: Iterable[str], base: type) -> dict[str, type]:
    out = {}
    for name in names:
        obj = getattr(namespace, name, None)
        if isinstance(obj, type) and issubclass(obj, base):
            out[name] = obj
    return out


def dataset_classes() -> dict[str, type]:
    from ..data import dataset_api

    return _catalogue(dataset_api, dataset_api.__all__, dataset_api.BaseDataset)


def reader_classes() -> dict[str, type]:
    from ..data import reader_api

    return _catalogue(reader_api, [n for n in reader_api.__all__ if n != "BaseReader"], reader_api.BaseReader)


def task_classes() -> dict[str, type]:
    from .. import tasks

    names = ("TextClassifierTask", "ImageClassifierTask", "MultiLabelClassifierTask", "RegressionTask",
             "SequenceLabelTask", "ReadingComprehensionTask")
    return _catalogue(tasks, names, tasks.BaseTask)


def strategy_classes() -> dict[str, type]:
    from .. import strategy

    names = ("DefaultFinetuneStrategy", "AdamWeightDecayStrategy", "L2SPFinetuneStrategy", "ULMFiTStrategy",
             "CombinedStrategy")
    return _catalogue(strategy, names, strategy.FinetuneStrategy)


# ---------------------------------------------------------------------------- the result
@dataclass
class EntrySpec:
    """One runner entry, checked: its options (defaults filled in), its RunConfig, its stage classes."""

    index: int
    name: str
    kind: str
    options: dict
    config: RunConfig
    stage_classes: dict[str, type]  # the default classes; a user's own are imported when the run starts
    stage_files: dict[str, str] = field(default_factory=dict)  # stage -> the *_class_path file


@dataclass
class RunSpec:
    """A run file, checked: `data` is the file with {workspace} expanded and paths made absolute;
    `source` names it in error messages."""

    data: dict
    workspace: str
    source: Optional[str]
    entries: list[EntrySpec]
    lines: dict[str, Any] = field(default_factory=dict)  # key path -> line, or "--set"
    checkpoint_dir: Optional[str] = None
    path: Optional[str] = None  # the YAML file (absolute), None for a run built in memory
    confined: bool = True  # its paths were kept inside the workspace


# ---------------------------------------------------------------------------- helpers
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _near(key: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(key, list(choices), n=1)
    return f" Did you mean '{near[0]}'?" if near else ""


def blame(message: str, keys: Iterable[str]) -> Optional[str]:
    """The key of `keys` a library's error message is about, to point at its key path: one it
    quotes ('key') first, else the one it names (as a word) first."""
    found = []
    for key in keys:
        quoted = message.find(f"'{key}'")
        word = re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message)
        if quoted >= 0 or word:
            found.append((quoted < 0, quoted if quoted >= 0 else word.start(), -len(key), key))
    return min(found)[3] if found else None


def _parameters(func: Callable, *also: Callable) -> dict[str, inspect.Parameter]:
    """Keyword parameters a constructor takes (through **kwargs, those of the `also` functions)."""
    params = dict(inspect.signature(func).parameters)
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        for extra in also:
            for name, p in inspect.signature(extra).parameters.items():
                params.setdefault(name, p)
    return {n: p for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _parent(path: str) -> str:
    """`runner[0].epochs` -> `runner[0]` -> `runner` -> ``."""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


class _Checker:
    """Raises RunFileError with the file and line of the key path when the YAML had one."""

    def __init__(self, source: Optional[str], lines: dict[str, int]) -> None:
        self.source, self.lines = source, lines

    def fail(self, path: str, message: str) -> RunFileError:
        where = self.source
        probe = path
        while probe and probe not in self.lines:
            probe = _parent(probe)
        if where and probe in self.lines:
            line = self.lines[probe]
            where = f"{where} ({line})" if isinstance(line, str) else f"{where}:{line}"
        return RunFileError(path, message, source=where)

    def mapping(self, value: Any, path: str, example: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping (key: value lines), found {type(value).__name__} "
                                  f"{value!r}; write e.g. {example}.")
        return value

    def keys(self, section: dict, path: str, allowed: Iterable[str], what: str,
             elsewhere: Optional[dict[str, str]] = None) -> None:
        allowed = list(allowed)
        for key in section:
            if not isinstance(key, str):
                raise self.fail(join_path(path, str(key)), f"keys are names, found {key!r}.")
            if key in allowed:
                continue
            if elsewhere and key in elsewhere:
                raise self.fail(join_path(path, key), f"'{key}' is an option of {elsewhere[key]}, not of {what}. "
                                                      f"{what} takes: {', '.join(sorted(allowed))}.")
            raise self.fail(join_path(path, key), f"unknown key.{_near(key, allowed)} {what} takes: "
                                                  f"{', '.join(sorted(allowed))}.")

    def kind(self, value: Any, path: str, check: Callable[[Any], bool], accepted: str) -> Any:
        if not check(value):
            raise self.fail(path, f"{value!r} is not accepted: use {accepted}.")
        return value

    def choice(self, value: Any, path: str, choices: Iterable[str], what: str) -> str:
        choices = list(choices)
        if not isinstance(value, str) or value not in choices:
            hint = _near(value, choices) if isinstance(value, str) else ""
            raise self.fail(path, f"{value!r} is not a known {what}.{hint} Choose from: {', '.join(choices)}.")
        return value

    def bind(self, section: dict, path: str, params: dict[str, inspect.Parameter], skip: Iterable[str],
             what: str, own: Iterable[str] = ()) -> dict:
        """The section's keys that go to a constructor, each one it takes."""
        skip = set(skip)
        takes = [n for n in params if n not in skip]
        kwargs = {}
        for key, value in section.items():
            if key in own or key == "class":
                continue
            if key not in takes:
                note = " (the run sets it itself)" if key in skip else ""
                raise self.fail(join_path(path, key), f"{what} takes no option '{key}'{note}.{_near(key, takes)} "
                                                      f"It takes: {', '.join(sorted(set(takes) | set(own)))}.")
            kwargs[key] = value
        return kwargs


# ---------------------------------------------------------------------------- sections
def _module_kind(section: dict, check: _Checker) -> Optional[str]:
    """'text' or 'vision', known without loading the module."""
    if not section:
        return None
    if "name" in section:
        from ..zoo import registry

        try:
            return registry.get(section["name"]).kind
        except ValueError as e:
            raise check.fail("module.name", str(e)) from None
    directory = section.get("directory")
    info_path = os.path.join(directory, "hubtrain_module.json")
    if os.path.isfile(info_path):
        try:
            with open(info_path, encoding="utf-8") as f:
                return "vision" if json.load(f).get("type") == "vision" else "text"
        except (OSError, ValueError, AttributeError):
            return "text"
    return "text"


def _check_module(section: dict, check: _Checker) -> None:
    check.keys(section, "module", MODULE_KEYS, "module")
    if ("name" in section) == ("directory" in section):
        raise check.fail("module", "give exactly one of name: (hubtrain zoo list names them) or directory: "
                                   "(a module directory, e.g. one written by save_pretrained).")
    if "name" in section:
        check.kind(section["name"], "module.name", lambda v: isinstance(v, str) and v != "", "a zoo name")
    else:
        directory = check.kind(section["directory"], "module.directory", lambda v: isinstance(v, str) and v != "",
                               "a directory path")
        if not os.path.isdir(directory):
            raise check.fail("module.directory", f"directory not found: {directory}; point it at a module "
                                                 f"directory (relative paths are taken from the workspace).")
    if "pretrained" in section:
        check.kind(section["pretrained"], "module.pretrained", lambda v: isinstance(v, (bool, str)),
                   "true, false, or a weights path")
    if "trainable" in section:
        check.kind(section["trainable"], "module.trainable", lambda v: isinstance(v, bool), "true or false")
    if "version" in section:
        check.kind(section["version"], "module.version", lambda v: v is None or isinstance(v, (str, int, float)),
                   "a version string")


def _check_dataset(section: dict, check: _Checker) -> None:
    classes = dataset_classes()
    if "class" not in section:
        raise check.fail("dataset.class", f"missing: name the dataset class, e.g. class: BBCNews "
                                          f"(one of {', '.join(sorted(classes))}).")
    cls = classes[check.choice(section["class"], "dataset.class", sorted(classes), "dataset (hub.dataset.*)")]
    check.bind(section, "dataset", _parameters(cls.__init__), ("self",), f"dataset {cls.__name__}",
               own=("few_shot",))
    base = section.get("base_path")
    for key, value in section.items():
        if key.endswith("_file") and isinstance(value, str) and (base or os.path.isabs(value)):
            path = os.path.join(base, value) if base and not os.path.isabs(value) else value
            if not os.path.isfile(path):
                raise check.fail(join_path("dataset", key), f"file not found: {path}; put the file there or fix "
                                                            f"the name (relative to base_path).")
    if "few_shot" in section:
        few = section["few_shot"]
        path = "dataset.few_shot"
        if isinstance(few, dict):
            check.keys(few, path, ("per_label", "seed"), "few_shot")
            check.kind(few.get("per_label"), f"{path}.per_label", lambda v: _is_int(v) and v >= 1,
                       "a whole number >= 1 (training examples kept per label)")
            check.kind(few.get("seed", 0), f"{path}.seed", lambda v: _is_int(v) and v >= 0, "a whole number >= 0")
        else:
            check.kind(few, path, lambda v: _is_int(v) and v >= 1,
                       "a whole number >= 1 (training examples kept per label), or {per_label: N, seed: S}")


def _check_task(section: dict, kind: Optional[str], check: _Checker) -> None:
    classes = task_classes()
    if "class" not in section:
        if kind is None:
            raise check.fail("task.class", f"missing: name the task class, one of {', '.join(classes)}.")
        section["class"] = "ImageClassifierTask" if kind == "vision" else "TextClassifierTask"
    cls = classes[check.choice(section["class"], "task.class", list(classes), "task")]
    from ..tasks import BaseTask

    params = _parameters(cls.__init__, BaseTask.__init__)
    check.bind(section, "task", params, _TASK_SET, f"task {cls.__name__}", own=("max_seq_len", "feature"))
    if "feature" in section and kind is not None:
        check.choice(section["feature"], "task.feature", FEATURES[kind], f"feature of a {kind} module")
    if "max_seq_len" in section:
        if kind == "vision":
            raise check.fail("task.max_seq_len", "a vision module reads images, not tokens: drop max_seq_len.")
        check.kind(section["max_seq_len"], "task.max_seq_len", lambda v: _is_int(v) and v >= 3,
                   "a whole number of tokens >= 3, e.g. 128 (at most the model's positions)")
    if "metrics_choices" in section:
        allowed = list(getattr(cls, "allowed_metrics", ()))
        value = section["metrics_choices"]
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n in allowed for n in names):
            raise check.fail("task.metrics_choices", f"{value!r} is not accepted: {cls.__name__} computes "
                                                     f"{allowed}; give a list of those names.")
    if "hidden_units" in section:
        check.kind(section["hidden_units"], "task.hidden_units",
                   lambda v: v is None or (isinstance(v, list) and all(_is_int(h) and h > 0 for h in v)),
                   "a list of layer sizes, e.g. [128]")
    if "dropout" in section:
        check.kind(section["dropout"], "task.dropout",
                   lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
                   "a number in [0, 1)")
    if "num_classes" in section:
        check.kind(section["num_classes"], "task.num_classes", lambda v: _is_int(v) and v >= 1,
                   "a whole number (by default the dataset's number of labels)")


def default_reader(task_class: Optional[str], kind: Optional[str]) -> Optional[str]:
    """The reader a task class reads with, for a module of `kind`."""
    if kind == "vision":
        return "ImageClassificationReader"
    return DEFAULT_READERS.get(task_class or "")


def _check_reader(section: dict, task_class: Optional[str], kind: Optional[str], check: _Checker) -> None:
    if not section:
        return
    classes = reader_classes()
    if "max_seq_len" in section:
        raise check.fail("reader.max_seq_len", "set the token length as task.max_seq_len.")
    name = section.get("class") or default_reader(task_class, kind)
    if name is None:
        raise check.fail("reader.class", f"missing: name the reader, one of {', '.join(classes)}.")
    cls = classes[check.choice(name, "reader.class", list(classes), "reader (hub.reader.*)")]
    check.bind(section, "reader", _parameters(cls.__init__), _READER_SET, f"reader {cls.__name__}")


def _strategy(section: dict, check: _Checker) -> Any:
    """The strategy object, made now: its constructor checks its own values."""
    if not section:
        return None
    classes = strategy_classes()
    if "class" not in section:
        raise check.fail("strategy.class", f"missing: name the strategy, one of {', '.join(classes)}.")
    cls = classes[check.choice(section["class"], "strategy.class", list(classes), "strategy")]
    kwargs = check.bind(section, "strategy", _parameters(cls.__init__), ("self",), f"strategy {cls.__name__}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        key = blame(str(e), kwargs)
        raise check.fail(join_path("strategy", key) if key else "strategy", str(e)) from None


# ---------------------------------------------------------------------------- runner entries
def _config(entry: dict, path: str, strategy: Any, checkpoint_dir: Optional[str], check: _Checker) -> RunConfig:
    """The entry's RunConfig, checked by RunConfig itself; an error names the key as written."""
    options: dict[str, Any] = {}
    written: dict[str, str] = {}
    for key, value in entry.items():
        name = ALIASES.get(key, key)
        if name not in _CONFIG_FIELDS:
            continue
        if name in written:
            raise check.fail(join_path(path, key), f"'{key}' and '{written[name]}' set the same option; keep one.")
        if key == "device":
            check.choice(value, join_path(path, key), ("cpu", "gpu"), "device")
            if value == "gpu":
                import paddle

                if not paddle.is_compiled_with_cuda():
                    raise check.fail(join_path(path, key), "this paddle has no GPU support: install paddlepaddle-gpu "
                                                           "on a machine with CUDA, or use device: cpu.")
            value = value == "gpu"
        options[name], written[name] = value, key
    options["checkpoint_dir"] = checkpoint_dir
    options.setdefault("seed", RUN_FILE_SEED)  # a run file is a reproducible experiment: seeded unless it says
    try:
        return RunConfig(strategy=strategy, **options)
    except (ValueError, TypeError) as e:
        name = blame(str(e), options)
        key = written.get(name, name) if name else None
        message = str(e)
        if key and name != key:
            message = f"{message} ('{key}' is RunConfig's '{name}'.)"
        raise check.fail(join_path(path, key) if key else path, message) from None


def _check_entry_values(entry: dict, kind: str, path: str, check: _Checker) -> None:
    def at(key: str) -> str:
        return join_path(path, key)

    flags = ("evaluate", "keep_step_checkpoints", "confusion_matrix", "load_best_model", "postprocess", "overwrite")
    for key in flags:
        if key in entry:
            check.kind(entry[key], at(key), lambda v: isinstance(v, bool), "true or false")
    if "phases" in entry:
        value = entry["phases"]
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not value or not all(p in ("train", "dev", "test") for p in value):
            raise check.fail(at("phases"), f"{entry['phases']!r} is not accepted: use a list of dataset splits "
                                           f"from train, dev, test, e.g. [dev, test].")
        entry["phases"] = value
    if "phase" in entry:
        check.choice(entry["phase"], at("phase"), SPLITS, "dataset split")
    if kind == "predict" and "phase" in entry and "input_file" in entry:
        raise check.fail(at("input_file"), "give either phase: (a dataset split) or input_file: (one example "
                                           "per line), not both.")
    if "input_file" in entry and not os.path.isfile(entry["input_file"]):
        raise check.fail(at("input_file"), f"file not found: {entry['input_file']}; give a file with one "
                                           f"example per line (a text, text_a<TAB>text_b, or an image path).")
    if "onnx" in entry and not entry["onnx"].endswith(".onnx"):
        raise check.fail(at("onnx"), f"{entry['onnx']!r}: name the ONNX file to write, ending in .onnx.")
    if "opset" in entry:
        check.kind(entry["opset"], at("opset"), lambda v: _is_int(v) and 7 <= v <= 21, "an ONNX opset, e.g. 13")
    if "name" in entry:
        check.kind(entry["name"], at("name"), lambda v: isinstance(v, str) and v != "", "a name")


def _place(section: dict, name: str, workspace: str, check: _Checker, confined: bool) -> None:
    """Every path of a section made absolute (from the workspace; a dataset's files from its
    base_path) and, for a run file, kept inside the workspace."""
    keys = [k for k in section if is_path_key(k) or (name == "module" and k == "pretrained")]
    if "base_path" in keys:
        keys.insert(0, keys.pop(keys.index("base_path")))
    base = workspace
    for key in keys:
        value = section[key]
        if not isinstance(value, str) or not value:
            continue
        section[key] = absolute(value, base if name == "dataset" and key.endswith("_file") else workspace)
        if key == "base_path":
            base = section[key]
        if confined:
            confine(check.fail, join_path(name, key), section[key], workspace)


def _check_weights(entry: dict, kind: str, path: str, earlier: list[EntrySpec], run_ckpt: Optional[str],
                   check: _Checker) -> None:
    """A predict or export entry needs weights that were trained: from an earlier train entry,
    an init_model_path (its own or an earlier entry's: the network is shared), a user's own
    stage, or the checkpoint directory (loaded by the startup stage)."""
    if any(key in entry for key in _WEIGHT_KEYS):
        return
    if any(e.kind == "train" or any(key in e.options for key in _WEIGHT_KEYS) for e in earlier):
        return
    from .startup import holds_weights

    if run_ckpt and holds_weights(run_ckpt):
        return
    made = "predictions" if kind == "predict" else "export"
    raise check.fail(path, f"'{entry['name']}' ({kind}) has no trained weights to use: no train entry comes before "
                           f"it, it has no init_model_path, and the checkpoint_dir {run_ckpt} holds no best_model/ "
                           f"or step checkpoint; its {made} would come from an untrained head. Add a train entry "
                           f"before it, give it init_model_path: (a checkpoint directory, best_model/, step_N/ or "
                           f".pdparams file), or set checkpoint_dir: to the directory of a run that trained this "
                           f"task.")


def _check_outputs(entry: dict, kind: str, path: str, check: _Checker) -> None:
    """Files and directories the entry writes: an existing one only with `overwrite: true`."""
    overwrite = bool(entry.get("overwrite", False))
    if kind == "predict" and "output_file" in entry:
        check_output_file(check.fail, join_path(path, "output_file"), path, entry["output_file"], overwrite)
    if kind == "export" and "onnx" in entry:
        check_output_file(check.fail, join_path(path, "onnx"), path, entry["onnx"], overwrite)
    if "export_dir" in entry:
        check_export_dir(check.fail, join_path(path, "export_dir"), path, entry["export_dir"], overwrite)


def _entry(raw: Any, index: int, strategy: Any, run_ckpt: Optional[str], earlier: list[EntrySpec],
           check: _Checker, workspace: str, confined: bool) -> EntrySpec:
    path = f"runner[{index}]"
    entry = check.mapping(raw, path, "- {name: train, class: train, epochs: 1}")
    entry = dict(entry)
    if "class" not in entry:
        raise check.fail(join_path(path, "class"), f"missing: say what the entry does, one of "
                                                   f"{', '.join(RUNNER_CLASSES)}.")
    kind = check.choice(entry["class"], join_path(path, "class"), RUNNER_CLASSES, "runner class")
    elsewhere = {k: " and ".join(f"{c} entries" for c, keys in CLASS_KEYS.items() if k in keys)
                 for keys in CLASS_KEYS.values() for k in keys if k not in CLASS_KEYS[kind]}
    check.keys(entry, path, ENTRY_KEYS + CLASS_KEYS[kind], f"a {kind} entry", elsewhere)
    for key in [k for k in entry if is_path_key(k)]:
        here = join_path(path, key)
        check.kind(entry[key], here, lambda v: isinstance(v, str) and v != "", "a path")
        entry[key] = absolute(entry[key], workspace)
        if confined:
            confine(check.fail, here, entry[key], workspace)
    _check_entry_values(entry, kind, path, check)
    entry.setdefault("name", f"{kind}_{index}")
    entry["checkpoint_dir"] = run_ckpt
    init = entry.get("init_model_path")
    if init and not os.path.exists(init):
        trained_before = any(e.kind == "train" for e in earlier)
        produced = trained_before and run_ckpt and os.path.commonpath([init, run_ckpt]) == run_ckpt
        if not produced:
            raise check.fail(join_path(path, "init_model_path"),
                             f"not found: {init}; give a hubtrain checkpoint directory, a best_model or step_N "
                             f"directory, or a .pdparams file of this network.")
    config = _config(entry, path, strategy, run_ckpt, check)
    from . import instance, network, runner, startup, terminal

    classes = {"instance": instance.Instance, "network": network.Network, "startup": startup.Startup,
               "runner": runner.Runner, "terminal": terminal.Terminal}
    files = {}
    for stage in STAGES:
        key = f"{stage}_class_path"
        if key in entry:
            check_stage_file(stage, entry[key], join_path(path, key))
            files[stage] = entry[key]
    if kind == "predict" and "output_file" not in entry and run_ckpt is None:
        raise check.fail(join_path(path, "output_file"), "missing: name the JSON-lines file to write.")
    _check_outputs(entry, kind, path, check)
    if kind in ("predict", "export"):
        _check_weights(entry, kind, path, earlier, run_ckpt, check)
    return EntrySpec(index, entry["name"], kind, entry, config, classes, files)


def _run_checkpoint_dir(entries: list, workspace: str, check: _Checker, confined: bool) -> str:
    """The one checkpoint directory of the run: the first entry that names one (later entries
    inherit it and may only repeat it); `{workspace}/ckpt` when none does."""
    chosen: Optional[str] = None
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("checkpoint_dir"):
            continue
        value = entry["checkpoint_dir"]
        key = f"runner[{i}].checkpoint_dir"
        check.kind(value, key, lambda v: isinstance(v, str), "a directory path")
        value = absolute(value, workspace)
        if confined:
            confine(check.fail, key, value, workspace)
        if chosen is None:
            chosen = value
        elif value != chosen:
            raise check.fail(key, f"{value} differs from {chosen}, named earlier: the entries of a run share one "
                                  f"checkpoint directory (drop the key to inherit it; to start from another run's "
                                  f"weights, use init_model_path).")
    return chosen or os.path.join(workspace, "ckpt")


def _check_train_data(section: dict, entries: list[EntrySpec], check: _Checker) -> None:
    """A train entry that builds the dataset the default way needs its train split named."""
    trains = [e for e in entries if e.kind == "train" and not {"instance", "runner"} & set(e.stage_files)]
    if not trains or not section.get("class"):
        return
    params = inspect.signature(dataset_classes()[section["class"]].__init__).parameters
    key = next((k for k in ("train_file", "train_list_file") if k in params), None)
    if key and not section.get(key):
        first = trains[0]
        raise check.fail(join_path("dataset", key), f"missing: the dataset has no {key}, and runner[{first.index}] "
                                                    f"'{first.name}' is a train entry, which needs one to train on. "
                                                    f"Add {key}: (a file under base_path) to the dataset section, "
                                                    f"or drop the train entry.")


# ---------------------------------------------------------------------------- the whole file
def validate(data: dict, workspace: str, source: Optional[str] = None, lines: Optional[dict] = None,
             allow_outside_workspace: bool = False) -> RunSpec:
    """Check a run file (already read, {workspace} expanded) and resolve what it names; with
    `allow_outside_workspace` its paths may lie outside the workspace. Reads stage class files
    without running them."""
    check = _Checker(source, lines or {})
    confined = not allow_outside_workspace
    check.keys(data, "", TOP_KEYS, "a run file")
    data = dict(data)
    data["workspace"] = workspace
    for name in ("module", "dataset", "reader", "task", "strategy"):
        data[name] = dict(check.mapping(data.get(name), name, f"{name}: {{class: ...}}"))
        _place(data[name], name, workspace, check, confined)
    runner = data.get("runner")
    if not isinstance(runner, list) or not runner:
        raise check.fail("runner", "missing or empty: list what to run, e.g. runner: [{name: train, class: train, "
                                   "epochs: 1}].")
    custom = [e if isinstance(e, dict) else {} for e in runner]
    needs_instance = any("instance_class_path" not in e for e in custom)
    needs_network = any("network_class_path" not in e for e in custom)
    kind = None
    if data["module"] or needs_network:
        if not data["module"]:
            raise check.fail("module", "missing: name the backbone, e.g. module: {name: all-minilm-l6-v2} "
                                       "(or give every entry a network_class_path).")
        _check_module(data["module"], check)
        kind = _module_kind(data["module"], check)
    if data["dataset"] or needs_instance:
        if not data["dataset"]:
            raise check.fail("dataset", "missing: name the data, e.g. dataset: {class: BBCNews} "
                                        "(or give every entry an instance_class_path).")
        _check_dataset(data["dataset"], check)
    if data["task"] or needs_network:
        _check_task(data["task"], kind, check)
    _check_reader(data["reader"], data["task"].get("class"), kind, check)
    strategy = _strategy(data["strategy"], check)
    run_ckpt = _run_checkpoint_dir(runner, workspace, check, confined)
    entries: list[EntrySpec] = []
    names: dict[str, int] = {}
    for i, raw in enumerate(runner):
        entry = _entry(raw, i, strategy, run_ckpt, entries, check, workspace, confined)
        if entry.name in names:
            raise check.fail(f"runner[{i}].name", f"{entry.name!r} is also the name of runner[{names[entry.name]}]; "
                                                  f"give each entry its own name.")
        names[entry.name] = i
        entries.append(entry)
    if data["dataset"] and needs_instance:
        _check_train_data(data["dataset"], entries, check)
    data["runner"] = [e.options for e in entries]
    return RunSpec(data, workspace, source, entries, dict(lines or {}), run_ckpt, confined=confined)
