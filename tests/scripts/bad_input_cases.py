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


@case("config-cuda-without-gpu", "config", "`hub.RunConfig(use_cuda=True)` on a paddle without a visible GPU")
def _(ws):
    return raised(lambda: _hub().RunConfig(use_cuda=True).device, ValueError), "nothing is written"


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
                                   config=hub.RunConfig(batch_size=16, checkpoint_dir=ws.path("ck")))
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
    return raised(lambda: _hub().Module(name="ernei"), ValueError), "nothing is downloaded or written"


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
        path = os.path.join(ck, step, "model.pdparams")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:-10])
    before = digest(ck)
    message = raised(lambda: _mlp_task(ws, num_epoch=2).finetune(_train(ws)), RuntimeError)
    assert digest(ck) == before
    # the sizes follow paddle's parameter names, which depend on what the process built before
    size = os.path.getsize(os.path.join(ck, "step_2", "model.pdparams"))
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
# (cases for checkpoint files and their verification go above this line)


# ---------------------------------------------------------------- files from users
# (cases for weights and module files from users go above this line)


# ---------------------------------------------------------------- run files and their workspace
# (cases for run files go above this line)


# ---------------------------------------------------------------- training runs
# (cases for training runs go above this line)


# ---------------------------------------------------------------- commands and data files
# (cases for the command line and data files go above this line)


# ---------------------------------------------------------------- modules and tasks
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
