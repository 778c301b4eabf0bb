"""The bad-input catalogue: each case makes hubtrain refuse one bad input and returns what it
said. tests/test_bad_input_catalogue.py checks every message against docs/bad-inputs.md, which

    python tests/scripts/bad_input_cases.py docs/bad-inputs.md

writes from these cases. A case gets a Workspace (a fresh directory, the digits data, a tiny
BERT directory) and returns (message, nothing_lost) where nothing_lost says what it checked
was left as it was."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

CASES: list["Case"] = []


@dataclass
class Case:
    key: str
    area: str
    bad_input: str
    run: Callable[["Workspace"], tuple[str, str]]


@dataclass
class Workspace:
    root: str
    digits: Any
    bert_dir: Callable[[], str]
    notes: list = field(default_factory=list)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)


def case(key: str, area: str, bad_input: str):
    def register(run):
        CASES.append(Case(key, area, bad_input, run))
        return run
    return register


def raised(call: Callable[[], Any], kind: type = Exception) -> str:
    try:
        call()
    except kind as error:  # the message is what is catalogued
        return str(error)
    raise AssertionError("no error was raised")


def digest(directory: str) -> str:
    """A hash of every file under `directory` (names, bytes), the lock file aside."""
    h = hashlib.sha256()
    for base, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            if name != ".lock":
                path = os.path.join(base, name)
                h.update(path.encode())
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def _hub():
    import hubtrain as hub
    return hub


def _mlp_task(ws: Workspace, ckpt: str = "ck", **config):
    from tiny import mlp_backbone
    hub = _hub()
    return hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10,
                                   config=hub.RunConfig(batch_size=16, checkpoint_dir=ws.path(ckpt), **config))


def _train(ws: Workspace, n: int = 64):
    from tiny import Digits
    return Digits(ws.digits[0].x[:n], ws.digits[0].y[:n])


def _trained_checkpoints(ws: Workspace) -> str:
    task = _mlp_task(ws, save_ckpt_interval=2)
    task.finetune(_train(ws))
    return ws.path("ck")


# ---------------------------------------------------------------- configuration
@case("config-unknown-key", "config", "`hub.RunConfig(num_epohc=3)`: a misspelt option")
def _(ws):
    hub = _hub()
    return raised(lambda: hub.RunConfig(num_epohc=3), ValueError), "nothing is written before a RunConfig exists"


@case("config-batch-size-0", "config", "`hub.RunConfig(batch_size=0)`")
def _(ws):
    return raised(lambda: _hub().RunConfig(batch_size=0), ValueError), "nothing is written before a RunConfig exists"


@case("config-negative-lr", "config", "`hub.AdamWeightDecayStrategy(learning_rate=-1e-3)`")
def _(ws):
    return raised(lambda: _hub().AdamWeightDecayStrategy(learning_rate=-1e-3), ValueError), "nothing is written"


@case("config-unknown-optimizer", "config", "`hub.DefaultFinetuneStrategy(optimizer_name=\"adamax2\")`")
def _(ws):
    return raised(lambda: _hub().DefaultFinetuneStrategy(optimizer_name="adamax2"), ValueError), "nothing is written"


@case("config-min-delta-alone", "config", "`hub.RunConfig(early_stopping_min_delta=0.01)` without a patience")
def _(ws):
    return raised(lambda: _hub().RunConfig(early_stopping_min_delta=0.01), ValueError), "nothing is written"


@case("config-early-stopping-without-dev", "config",
      "`early_stopping_patience=2` with `finetune(train)`: no dev data to watch")
def _(ws):
    task = _mlp_task(ws, early_stopping_patience=2)
    message = raised(lambda: task.finetune(_train(ws)), ValueError)
    assert not os.path.exists(ws.path("ck"))
    return message, "refused before the checkpoint directory is created"


# ---------------------------------------------------------------- data
def _tsv_dataset(ws: Workspace, content: str):
    with open(ws.path("train.tsv"), "w", encoding="utf-8") as f:
        f.write(content)
    return lambda: _hub().dataset.BaseNLPDataset(ws.root, train_file="train.tsv", label_list=["0", "1"])


@case("data-label-not-in-list", "data", "a TSV row whose label is not in `label_list`")
def _(ws):
    return raised(_tsv_dataset(ws, "good\t1\nbad\t2\n"), ValueError), "the file is only read"


@case("data-tsv-columns", "data", "a TSV row with a third column (a tab inside the text)")
def _(ws):
    return raised(_tsv_dataset(ws, "good\t1\nvery\tgood\t1\n"), ValueError), "the file is only read"


@case("data-empty-file", "data", "an empty TSV split file")
def _(ws):
    return raised(_tsv_dataset(ws, ""), ValueError), "the file is only read"


@case("data-missing-file", "data", "`BaseNLPDataset(..., train_file=\"absent.tsv\")`: no such file")
def _(ws):
    hub = _hub()
    return raised(lambda: hub.dataset.BaseNLPDataset(ws.root, train_file="absent.tsv"), FileNotFoundError), \
        "nothing is read or written"


@case("data-empty-split", "data", "training on a dataset with no samples")
def _(ws):
    from tiny import Digits
    task = _mlp_task(ws)
    empty = Digits(np.zeros((0, 64), "float32"), np.zeros(0, "int64"))
    message = raised(lambda: task.finetune(empty), ValueError)
    return message, "refused before the first step"


def _image_list(ws: Workspace, lines: str):
    import cv2
    cv2.imwrite(ws.path("a.png"), np.zeros((4, 4, 3), np.uint8))
    with open(ws.path("train.txt"), "w") as f:
        f.write(lines)
    return lambda: _hub().dataset.BaseCVDataset(base_path=ws.root, train_list_file="train.txt",
                                                label_list=["cat", "dog"])


@case("data-image-list-missing-file", "data", "an image list line naming a file that does not exist")
def _(ws):
    return raised(_image_list(ws, "a.png 0\nmissing/b.png 1\n"), FileNotFoundError), "the list is only read"


@case("data-image-label-out-of-range", "data", "an image list label index beyond the label list")
def _(ws):
    return raised(_image_list(ws, "a.png 0\na.png 2\n"), ValueError), "the list is only read"


@case("data-corrupt-image", "data", "a truncated JPEG in an image list, read when its batch is built")
def _(ws):
    import cv2
    hub = _hub()
    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    with open(ws.path("cut.jpg"), "wb") as f:
        f.write(buf.tobytes()[: len(buf) // 2])
    with open(ws.path("train.txt"), "w") as f:
        f.write("cut.jpg 0\n")
    dataset = hub.dataset.BaseCVDataset(base_path=ws.root, train_list_file="train.txt", label_list=["a", "b"])
    images = hub.reader.ImageClassificationReader(32, 32, dataset=dataset).get_dataset("train")
    return raised(lambda: images[0]), "the image file is only read"


@case("data-text-truncated", "data", "texts longer than `max_seq_len` (not an error: counted, one line per split)")
def _(ws):
    import logging
    from hubtrain.engine.report import logger
    hub = _hub()
    with open(ws.path("train.tsv"), "w", encoding="utf-8") as f:
        f.write("good " * 40 + "\t1\nbad\t0\n" + "fine " * 30 + "\t1\n")
    dataset = hub.dataset.BaseNLPDataset(ws.root, train_file="train.tsv", label_list=["0", "1"])
    module = hub.Module(directory=ws.bert_dir())
    reader = hub.reader.ClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(), max_seq_len=16)
    seen = []

    class Grab(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler, level = Grab(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        reader.get_dataset("train")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return next(m for m in seen if "truncated" in m), "the texts are kept whole in the dataset"


@case("data-label-beyond-num-classes", "data", "labels 0..9 with `num_classes=5`")
def _(ws):
    from tiny import mlp_backbone
    hub = _hub()
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=5,
                                   config=hub.RunConfig(batch_size=16, seed=42, checkpoint_dir=ws.path("ck")))
    message = raised(lambda: task.finetune(_train(ws)), ValueError)
    assert not [n for n in os.listdir(ws.path("ck")) if n.startswith("step_")]
    return message, "stopped at the first batch: no checkpoint written"


@case("data-label-shape", "data", "a dataset yielding labels of shape `[N]` where the task declares `[N, 1]`")
def _(ws):
    from tiny import Digits

    class FlatLabels(Digits):
        def __getitem__(self, i):
            return self.x[i], np.int64(self.y[i])

    task = _mlp_task(ws)
    message = raised(lambda: task.finetune(FlatLabels(ws.digits[0].x[:64], ws.digits[0].y[:64])), ValueError)
    return message, "stopped at the first batch: no checkpoint written"


@case("data-few-shot-multi-label", "data", "`few_shot()` on a multi-label dataset")
def _(ws):
    return raised(lambda: _hub().dataset.BBCNewsMultiLabel().few_shot(3), ValueError), "nothing is written"


# ---------------------------------------------------------------- modules and weights
@case("module-missing-weights", "modules", "a module directory without its weights file")
def _(ws):
    broken = ws.path("broken")
    shutil.copytree(ws.bert_dir(), broken)
    os.remove(os.path.join(broken, "model_state.pdparams"))
    before = digest(broken)
    message = raised(lambda: _hub().Module(directory=broken), FileNotFoundError)
    assert digest(broken) == before
    return message, "the directory is left as it was"


@case("module-unknown-name", "modules", "`hub.Module(name=\"ernei\")`: a misspelt name")
def _(ws):
    os.environ["HUBTRAIN_HOME"], home = ws.path("home"), os.environ.get("HUBTRAIN_HOME")
    try:
        message = raised(lambda: _hub().Module(name="ernei"), ValueError)
    finally:
        if home is None:
            os.environ.pop("HUBTRAIN_HOME", None)
        else:
            os.environ["HUBTRAIN_HOME"] = home
    return message, "nothing is downloaded or written"


@case("module-max-seq-len", "modules", "`context(max_seq_len=100)` on a model with 64 positions")
def _(ws):
    module = _hub().Module(directory=ws.bert_dir())
    return raised(lambda: module.context(max_seq_len=100), ValueError), "the module is unchanged"


@case("module-offline-name", "modules", "`hub.Module(name=\"ernie\")` with no network and nothing cached")
def _(ws):
    os.environ["HUBTRAIN_OFFLINE"], old = "1", os.environ.get("HUBTRAIN_OFFLINE")
    os.environ["HUBTRAIN_HOME"], home = ws.path("home"), os.environ.get("HUBTRAIN_HOME")
    try:
        message = raised(lambda: _hub().Module(name="ernie"))
    finally:
        for key, value in (("HUBTRAIN_OFFLINE", old), ("HUBTRAIN_HOME", home)):
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return message, "nothing is written to the cache"


@case("module-foreign-pickle", "modules", "a `.pth` file whose pickle calls `os.system`")
def _(ws):
    import pickle
    from hubtrain.zoo.torch_pickle import load_torch_checkpoint

    class Payload:
        def __reduce__(self):
            return os.system, ("true",)

    path = ws.path("evil.pth")
    with open(path, "wb") as f:
        f.write(pickle.dumps({"weight": Payload()}, protocol=2))
    return raised(lambda: load_torch_checkpoint(path)), "refused before anything in the file runs"


# ---------------------------------------------------------------- checkpoints
@case("checkpoint-other-network", "checkpoints", "resuming a checkpoint directory written by another network")
def _(ws):
    from tiny import mlp_backbone
    hub = _hub()
    ck = _trained_checkpoints(ws)
    before = digest(ck)
    other = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, hidden_units=[16],
                                    config=hub.RunConfig(batch_size=16, num_epoch=2, checkpoint_dir=ck))
    message = raised(lambda: other.finetune(_train(ws)), RuntimeError)
    assert digest(ck) == before
    return message, "every checkpoint is left as it was"


@case("checkpoint-all-damaged", "checkpoints", "every checkpoint in the directory truncated")
def _(ws):
    ck = _trained_checkpoints(ws)
    for step in ("step_2", "step_4"):
        path = os.path.join(ck, step, "model.safetensors")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:-10])
    before = digest(ck)
    message = raised(lambda: _mlp_task(ws, num_epoch=2).finetune(_train(ws)), RuntimeError)
    assert digest(ck) == before
    # the sizes follow paddle's parameter names, which depend on what the process built before
    size = os.path.getsize(os.path.join(ck, "step_2", "model.safetensors"))
    sizes = f"({size} bytes, the manifest says {size + 10})"
    assert sizes in message
    return message.replace(sizes, "(<size> bytes, the manifest says <size + 10>)"), \
        "the damaged checkpoints are kept for inspection; nothing is overwritten"


@case("checkpoint-dir-in-use", "checkpoints", "a second run on a `checkpoint_dir` a running process holds")
def _(ws):
    from hubtrain.engine.checkpoint import CheckpointManager
    manager = CheckpointManager(ws.path("ck"))
    manager.acquire()
    try:
        message = raised(lambda: _mlp_task(ws).finetune(_train(ws)), RuntimeError)
    finally:
        manager.release()
    return message.replace(str(os.getpid()), "<pid>"), "the first run's files are untouched"


@case("checkpoint-ulmfit-plan", "checkpoints", "resuming a ULMFiT run with other `dis_blocks`")
def _(ws):
    from tiny import mlp_backbone
    hub = _hub()
    for blocks in (3, 2):
        task = hub.ImageClassifierTask(
            feature=mlp_backbone(), num_classes=10, hidden_units=[16],
            config=hub.RunConfig(batch_size=16, num_epoch=2 if blocks == 3 else 3, checkpoint_dir=ws.path("ck"),
                                 strategy=hub.ULMFiTStrategy(dis_blocks=blocks)))
        if blocks == 3:
            task.finetune(_train(ws))
            before = digest(ws.path("ck"))
    message = raised(lambda: task.finetune(_train(ws)), RuntimeError)
    assert digest(ws.path("ck")) == before
    return message, "the checkpoints are left as they were"


# ---------------------------------------------------------------- export
@case("export-missing", "export", "`hub.Predictor(\"nowhere\")`: no export directory")
def _(ws):
    return raised(lambda: _hub().Predictor(ws.path("nowhere"))), "nothing is written"


@case("export-over-other-directory", "export", "`task.export(dir)` where `dir` holds other files")
def _(ws):
    other = ws.path("mine")
    os.makedirs(other)
    with open(os.path.join(other, "notes.txt"), "w") as f:
        f.write("keep me")
    task = _mlp_task(ws)
    task.fit(_train(ws), batch_size=16, verbose=0)
    before = digest(other)
    message = raised(lambda: task.export(other))
    assert digest(other) == before
    return message, "the directory and its files are left as they were"


# ---------------------------------------------------------------- run files

_STAGE = """\
from hubtrain.pipeline import StartupBase

class Startup(StartupBase):
    pass
"""


def _run_file(ws: Workspace, extra: str, name: str = "run.yaml") -> str:
    from pipeline_workspace import BBC_RUN

    os.makedirs(ws.path("ws"), exist_ok=True)
    path = ws.path("ws", name)
    with open(path, "w") as f:
        f.write(BBC_RUN % extra)
    return path


@case("runfile-unknown-key", "run file", "`epoch: 3` in a train entry (the key is `epochs`)")
def _(ws):
    from hubtrain.pipeline import load_run
    message = raised(lambda: load_run(_run_file(ws, "    epoch: 3")))
    assert not os.path.exists(ws.path("ws", "ckpt"))
    return message, "refused before anything runs: no checkpoint directory"


@case("runfile-bad-value", "run file", "`batch_size: 0` in a train entry")
def _(ws):
    from hubtrain.pipeline import load_run
    return raised(lambda: load_run(_run_file(ws, "    batch_size: 0"))), "refused before anything runs"


@case("runfile-class-outside-workspace", "run file",
      "`startup_class_path` naming a file outside the workspace")
def _(ws):
    from hubtrain.pipeline import load_run
    os.makedirs(ws.path("outside"))
    with open(ws.path("outside", "stage.py"), "w") as f:
        f.write(_STAGE)
    path = _run_file(ws, '    startup_class_path: "{workspace}/../outside/stage.py"')
    return raised(lambda: load_run(path)), "the file is not imported: nothing in it runs"


@case("runfile-missing-class-file", "run file", "`startup_class_path` naming a file that does not exist")
def _(ws):
    from hubtrain.pipeline import load_run
    path = _run_file(ws, '    startup_class_path: "{workspace}/nowhere.py"')
    return raised(lambda: load_run(path)), "refused before anything runs"


# ---------------------------------------------------------------- hubtrain's own checkpoints
def _relist(path: str, fmt: int) -> None:
    """Write the manifest of checkpoint `path` for the files now in it, as whoever wrote them would."""
    import json
    files = {}
    for name in sorted(os.listdir(path)):
        if name != "manifest.json":
            with open(os.path.join(path, name), "rb") as f:
                data = f.read()
            files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump({"format": fmt, "step": 2, "files": files}, f)


@case("checkpoint-format1-code", "checkpoints",
      "a format-1 checkpoint (the previous release's pickles) whose `model.pdparams` calls `os.system`")
def _(ws):
    import json
    import pickle

    marker = ws.path("ran")

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    step = ws.path("ck", "step_2")
    os.makedirs(step)
    with open(os.path.join(step, "model.pdparams"), "wb") as f:
        pickle.dump({"fc.weight": Payload()}, f, protocol=4)
    with open(os.path.join(step, "rng.pkl"), "wb") as f:
        pickle.dump({}, f, protocol=4)
    with open(os.path.join(step, "trainer_state.json"), "w") as f:
        json.dump({}, f)
    _relist(step, 1)
    before = digest(ws.path("ck"))
    message = raised(lambda: _mlp_task(ws).finetune(_train(ws)), RuntimeError)
    assert digest(ws.path("ck")) == before and not os.path.exists(marker)
    return message, "refused before anything in the file runs or training starts; the checkpoint is left as it was"


@case("checkpoint-best-model-truncated", "checkpoints", "a truncated `best_model/` in the directory a run resumes")
def _(ws):
    from tiny import Digits
    dev = Digits(ws.digits[1].x[:48], ws.digits[1].y[:48])
    _mlp_task(ws, save_ckpt_interval=2, eval_interval=2).finetune_and_eval(_train(ws), dev)
    path = ws.path("ck", "best_model", "model.safetensors")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-10])
    before = digest(ws.path("ck"))
    message = raised(lambda: _mlp_task(ws, num_epoch=2, eval_interval=2).finetune_and_eval(_train(ws), dev),
                     RuntimeError)
    assert digest(ws.path("ck")) == before
    sizes = f"({len(data) - 10} bytes, the manifest says {len(data)})"
    assert sizes in message
    return message.replace(sizes, "(<size> bytes, the manifest says <size + 10>)"), \
        "refused before the first step; nothing is overwritten"


@case("checkpoint-empty-manifest", "checkpoints", "checkpoints whose `manifest.json` lists no files (`\"files\": {}`)")
def _(ws):
    import json
    ck = _trained_checkpoints(ws)
    for step in ("step_2", "step_4"):
        path = os.path.join(ck, step, "manifest.json")
        with open(path) as f:
            manifest = json.load(f)
        manifest["files"] = {}
        with open(path, "w") as f:
            json.dump(manifest, f)
    before = digest(ck)
    message = raised(lambda: _mlp_task(ws, num_epoch=2).finetune(_train(ws)), RuntimeError)
    assert digest(ck) == before
    return message, "refused before the first step; nothing is overwritten"


# (cases for checkpoint files and their verification go above this line)


# ---------------------------------------------------------------- files from users
def _crafted_pdparams(path: str, marker: str) -> str:
    """A .pdparams pickle beside a real tensor whose `__reduce__` calls os.system (to create `marker`)."""
    import pickle

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    with open(path, "wb") as f:
        pickle.dump({"fc.weight": np.ones(2, np.float32), "payload": Payload()}, f, protocol=4)
    return path


@case("user-task-load-code", "user files", "`task.load(path)` on a `.pdparams` whose pickle calls `os.system`")
def _(ws):
    marker = ws.path("ran")
    _crafted_pdparams(ws.path("evil.pdparams"), marker)
    task = _mlp_task(ws)
    before = [p.numpy().copy() for p in task.parameters()]
    message = raised(lambda: task.load(ws.path("evil")))
    assert not os.path.exists(marker)
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(task.parameters(), before))
    return message, "refused before anything in the file runs; the task's weights are left as they were"


@case("user-module-directory-code", "user files",
      "`hub.Module(directory=...)` whose `model_state.pdparams` calls `os.system`")
def _(ws):
    marker = ws.path("ran")
    module = ws.path("module")
    shutil.copytree(ws.bert_dir(), module)
    _crafted_pdparams(os.path.join(module, "model_state.pdparams"), marker)
    before = digest(module)
    message = raised(lambda: _hub().Module(directory=module))
    assert not os.path.exists(marker) and digest(module) == before
    return message, "refused before anything in the file runs; the directory is left as it was"


@case("user-init-model-code", "user files", "`init_model_path` naming a `.pdparams` whose pickle calls `os.system`")
def _(ws):
    from hubtrain.pipeline import warm_start
    marker = ws.path("ran")
    path = _crafted_pdparams(ws.path("evil.pdparams"), marker)
    task = _mlp_task(ws)
    before = [p.numpy().copy() for p in task.parameters()]
    message = raised(lambda: warm_start(task, path))
    assert not os.path.exists(marker)
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(task.parameters(), before))
    return message, "refused before anything in the file runs; the task's weights are left as they were"


# (cases for weights and module files from users go above this line)


# ---------------------------------------------------------------- run files and their workspace
def _runner_only(ws: Workspace, entries: str, name: str = "run.yaml") -> str:
    """A run file of the BBC News sections whose runner list is `entries` alone."""
    from pipeline_workspace import BBC_RUN

    path = _run_file(ws, "", name)
    with open(path, "w") as f:
        f.write((BBC_RUN % "").split("runner:")[0] + "runner:\n" + entries)
    return path


@case("runfile-workspace-key", "run file", "`workspace: \"/\"` in a run file")
def _(ws):
    from hubtrain.pipeline import load_run
    from pipeline_workspace import BBC_RUN
    path = _run_file(ws, "")
    with open(path, "w") as f:
        f.write('workspace: "/"\n' + BBC_RUN % "")
    message = raised(lambda: load_run(path))
    assert not os.path.exists(ws.path("ws", "ckpt"))
    return message, "refused before anything runs: no checkpoint directory"


@case("runfile-path-outside-workspace", "run file", "`checkpoint_dir: \"../elsewhere\"` in a train entry")
def _(ws):
    from hubtrain.pipeline import load_run
    path = _run_file(ws, "")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('"{workspace}/ckpt"', '"../elsewhere"'))
    message = raised(lambda: load_run(path))
    assert not os.path.exists(ws.path("elsewhere"))
    return message, "nothing is written outside the workspace (or in it)"


@case("runfile-existing-output", "run file", "a predict entry whose `output_file` already exists")
def _(ws):
    from hubtrain.pipeline import load_run
    kept = ws.path("ws", "predictions.jsonl")
    os.makedirs(ws.path("ws"))
    with open(kept, "w") as f:
        f.write("{\"index\": 0}\n")
    path = _run_file(ws, "  - {name: predict, class: predict, output_file: predictions.jsonl}")
    message = raised(lambda: load_run(path))
    with open(kept) as f:
        assert f.read() == "{\"index\": 0}\n"
    assert not os.path.exists(ws.path("ws", "ckpt"))
    return message, "refused before any stage runs: the file is left as it was"


@case("runfile-alias-bomb", "run file", "a 359-byte run file of nested aliases (nine levels, nine aliases each)")
def _(ws):
    from hubtrain.pipeline import load_run
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefghi", "bcdefghij"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    os.makedirs(ws.path("ws"))
    path = ws.path("ws", "laughs.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return raised(lambda: load_run(path)), "refused while reading, in milliseconds: nothing is expanded or built"


@case("runfile-predict-without-weights", "run file",
      "a run file whose only entry is `class: predict`, with no checkpoint to load")
def _(ws):
    from hubtrain.pipeline import load_run
    path = _runner_only(ws, "  - {name: guess, class: predict, output_file: out.jsonl}\n")
    message = raised(lambda: load_run(path))
    assert not os.path.exists(ws.path("ws", "out.jsonl"))
    return message, "refused before any stage runs: no predictions written"


@case("runfile-max-steps-0", "run file", "`max_steps: 0` in a train entry")
def _(ws):
    from hubtrain.pipeline import load_run
    return raised(lambda: load_run(_run_file(ws, "    max_steps: 0"))), "refused before anything runs"


@case("runfile-dataset-without-train-file", "run file",
      "a `BaseNLPDataset` section with no `train_file`, and a train entry")
def _(ws):
    from hubtrain.pipeline import load_run
    from pipeline_workspace import BBC_RUN
    os.makedirs(ws.path("ws", "data"))
    with open(ws.path("ws", "data", "dev.tsv"), "w") as f:
        f.write("good film\t1\n")
    path = ws.path("ws", "run.yaml")
    with open(path, "w") as f:
        f.write((BBC_RUN % "").replace("{class: BBCNews, few_shot: 5}", '{class: BaseNLPDataset, base_path: data, '
                                                                       'dev_file: dev.tsv, label_list: ["0", "1"]}'))
    return raised(lambda: load_run(path)), "refused before anything runs"


# (cases for run files go above this line)


# ---------------------------------------------------------------- training runs
# (cases for training runs go above this line)


# ---------------------------------------------------------------- commands and data files
@case("data-header-read-as-data", "data",
      "a TSV whose first line is a header (`text_a<TAB>label`) read without `train_file_with_header=True`")
def _(ws):
    return raised(_tsv_dataset(ws, "text_a\tlabel\ngood\t1\n"), ValueError), "the file is only read"


@case("data-space-separated-row", "data", "a TSV row whose columns are separated by spaces, not a tab")
def _(ws):
    return raised(_tsv_dataset(ws, "good film\t1\nbad film 0\n"), ValueError), "the file is only read"


@case("data-trailing-tab", "data", "a TSV row ending with a tab (an empty last column)")
def _(ws):
    return raised(_tsv_dataset(ws, "good film\t1\nbad film\t0\t\n"), ValueError), "the file is only read"


def _command_error(argv: list) -> tuple[int, str]:
    """The exit status of `hubtrain ARGV` and what it printed on stderr."""
    import contextlib
    import io

    from hubtrain.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue().strip()


@case("cli-eval-checkpoint-dir-nowhere", "commands", "`hubtrain eval ... --checkpoint-dir nowhere`: no such folder")
def _(ws):
    status, message = _command_error(["eval", "--module", ws.bert_dir(), "--dataset", "BaseNLPDataset",
                                      "--checkpoint-dir", ws.path("nowhere")])
    assert status == 2 and not os.path.exists(ws.path("nowhere"))
    return message, "refused before anything is built: no folder is created"


def _predict_lines(ws: Workspace, data: bytes, **options) -> str:
    from hubtrain.export.commands import read_examples
    path = ws.path("input.txt")
    with open(path, "wb") as f:
        f.write(data)
    return raised(lambda: list(read_examples(path, "text", **options)), ValueError)


@case("cli-predict-too-many-fields", "commands",
      "`hubtrain predict EXPORT --input FILE` whose lines are `text<TAB>label` (for a classifier with labels 0, 1)")
def _(ws):
    message = _predict_lines(ws, b"good film\t1\n", pairs=True, labels=["0", "1"])
    return message, "refused before the output file is opened"


@case("cli-predict-not-utf8", "commands", "`hubtrain predict EXPORT --input FILE` with a Latin-1 byte on line 2")
def _(ws):
    message = _predict_lines(ws, "fine\ncaf\u00e9 ok\n".encode("latin-1"), pairs=True)
    return message, "refused before the output file is opened"


def _launch_error(ws: Workspace, options: list) -> tuple[str, str]:
    """`hubtrain train` of a tiny BERT with launch `options`: what it said, refused before anything starts."""
    status, message = _command_error(["train", "--module", ws.bert_dir(), "--dataset", "BaseNLPDataset",
                                      "--checkpoint-dir", ws.path("ck"), *options])
    assert status == 2 and not os.path.exists(ws.path("ck"))
    return message, "refused before the launcher starts: no checkpoint folder, no worker"


@case("cli-nnodes-without-master", "commands", "`hubtrain train ... --nproc 2 --nnodes 2` without `--master`")
def _(ws):
    return _launch_error(ws, ["--nproc", "2", "--nnodes", "2"])


@case("cli-master-host-name", "commands", "`hubtrain train ... --nnodes 2 --master node1:8090` (a host name)")
def _(ws):
    return _launch_error(ws, ["--nnodes", "2", "--master", "node1:8090"])


@case("cli-max-restart-without-nproc", "commands", "`hubtrain train ... --max-restart 2` without `--nproc`")
def _(ws):
    return _launch_error(ws, ["--max-restart", "2"])


# (cases for the command line and data files go above this line)


# ---------------------------------------------------------------- modules and tasks
@case("task-unknown-metric", "tasks",
      "`metrics_choices` naming a metric the classifier cannot compute (`auc`)")
def _(ws):
    from tiny import mlp_backbone
    hub = _hub()
    message = raised(lambda: hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10,
                                                     metrics_choices=["acc", "auc"],
                                                     config=hub.RunConfig(checkpoint_dir=ws.path("ck"))),
                     ValueError)
    assert not os.path.exists(ws.path("ck"))
    return message, "refused when the task is built: no run starts and its checkpoint_dir is not created"


# (cases for modules and task options go above this line)


def normalise(message: str, ws: Workspace) -> str:
    """One line, with the case's own directories written as placeholders."""
    text = " ".join(message.split())
    text = text.replace(os.path.realpath(ws.root), "<tmp>").replace(ws.root, "<tmp>")
    bert = ws.bert_dir.__dict__.get("resolved")
    if bert:  # the directory, and its name where a message names the model by it
        text = text.replace(bert, "<bert>").replace(f" {os.path.basename(bert)} ", " <bert> ")
    return text.replace(os.getcwd(), "<cwd>")


def render(rows: list[tuple[Case, str, str]]) -> str:
    lines = ["# Bad input: what hubtrain says", "",
             "Each row is a bad input, the message hubtrain gives for it (exactly; `<tmp>` stands for the",
             "directory the input was in) and what the test checked was left untouched. The messages are",
             "asserted by `tests/test_bad_input_catalogue.py`, which also checks that this page matches",
             "them; `python tests/scripts/bad_input_cases.py docs/bad-inputs.md` writes it.", "",
             "| # | area | bad input | hubtrain says | nothing lost |", "|---|---|---|---|---|"]
    for i, (c, message, kept) in enumerate(rows, start=1):
        cell = message.replace("|", "\\|")
        lines.append(f"| {i} | {c.area} | {c.bad_input} | `{c.key}`: {cell} | {kept} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # regenerate the page
    import tempfile
    sys.path.insert(0, os.path.dirname(__file__))
    os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")
    from tiny import digits_splits
    from tiny_text import write_tiny_bert

    with tempfile.TemporaryDirectory() as base:
        bert = write_tiny_bert(os.path.join(base, "bert"))
        rows = []
        for c in CASES:
            root = os.path.join(base, c.key)
            os.makedirs(root)
            getter = lambda: bert  # noqa: E731
            getter.resolved = bert
            ws = Workspace(root, digits_splits(), getter)
            message, kept = c.run(ws)
            rows.append((c, normalise(message, ws), kept))
        with open(sys.argv[1], "w", encoding="utf-8") as f:
            f.write(render(rows))
    print(f"{len(rows)} cases written to {sys.argv[1]}")
