"""Staged runs from run files with real components (tiny BERT, TSV data): the five stages in
order with a user's own startup stage, several runner entries sharing one network, warm start
from each kind of init_model_path, and a stage skipping ahead."""
import json
import os

import numpy as np
import paddle
import pytest

from hubtrain.pipeline import STAGES, RunFileError, StageError, run_pipeline
from pipeline_workspace import TRAIN_ENTRY, write_file, write_run_file

CUSTOM_STARTUP = '''
import json, os
from hubtrain.pipeline import StartupBase

class Startup(StartupBase):
    """Records what ran before it, and sets the head's bias: effects a test can see."""

    def startup(self, context):
        seen = [s["stage"] for s in context["stages"] if s["runner"] == context["runner_name"]]
        head = context["task"].network.head
        last = [layer for layer in head.sublayers() if hasattr(layer, "bias")][-1]
        last.bias.set_value(last.bias.numpy() * 0 + 0.25)
        with open(os.path.join(context["workspace"], "startup_ran.json"), "w") as f:
            json.dump({"stages_before": seen, "runner": context["runner_name"], "status": context["status"]}, f)
        context["custom_startup"] = True
'''


def _stages(context, runner):
    return [(s["stage"], s["class"]) for s in context["stages"] if s["runner"] == runner]


def test_custom_startup_runs_in_order_and_leaves_its_mark(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    entries = TRAIN_ENTRY.replace("    eval_interval: 4\n", "    eval_interval: 4\n    max_steps: 2\n") + \
        '    startup_class_path: "{workspace}/my_startup.py"\n'
    path = write_run_file(ws, tiny_bert_dir, entries)
    write_file(ws, "my_startup.py", CUSTOM_STARTUP)
    context = run_pipeline(path)

    ran = _stages(context, "train")
    assert [stage for stage, _ in ran] == list(STAGES)
    assert ran[2][1].endswith(".Startup") and not ran[2][1].startswith("hubtrain.")   # the user's class
    assert all(cls.startswith("hubtrain.pipeline.") for stage, cls in ran if stage != "startup")
    mark = json.loads((tmp_path / "ws" / "startup_ran.json").read_text())
    assert mark == {"stages_before": ["instance", "network"], "runner": "train", "status": "startup_pass"}
    assert context["custom_startup"] is True
    # the bias it set is where training started: after 2 steps at lr 5e-3 it is still near 0.25
    bias = [layer for layer in context["task"].network.head.sublayers() if hasattr(layer, "bias")][-1].bias.numpy()
    assert np.all(np.abs(bias - 0.25) < 0.05)
    assert context["results"][0]["steps"] == 2


def test_two_entries_train_then_evaluate_on_the_same_network(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    entries = TRAIN_ENTRY + "  - name: check\n    class: evaluate\n    phases: [test, dev]\n    batch_size: 8\n"
    context = run_pipeline(write_run_file(ws, tiny_bert_dir, entries))

    train, check = context["results"]
    assert (train["class"], check["class"]) == ("train", "evaluate")
    assert train["steps"] == 8                                  # 64 examples / 16, 2 epochs
    assert [s for s, _ in _stages(context, "check")] == list(STAGES)
    # the evaluate entry sees the weights training ended with (the best model, loaded back)
    assert check["test"]["acc"] == train["test"]["acc"]
    np.testing.assert_allclose(check["test"]["loss"], train["test"]["loss"], rtol=1e-5)
    assert context["task"].config.batch_size == 8               # the entry's own RunConfig
    assert context["evaluated"] == ["test", "dev"]
    ckpt = tmp_path / "ws" / "ckpt"
    assert (ckpt / "best_model" / "manifest.json").is_file()
    for phase in ("dev", "test"):                               # the terminal's confusion matrices
        record = json.loads((ckpt / f"confusion_{phase}.json").read_text())
        assert record["count"] == 24 and record["labels"] == ["0", "1"]
    assert abs(record["accuracy"] - check["test"]["acc"]) < 1e-9
    runs = json.loads((ckpt / "run_summary.json").read_text())["runs"]
    assert [e["runner"] for e in runs[-1]["entries"]] == ["train", "check"]


def test_warm_start_from_a_checkpoint_dir_best_model_and_pdparams(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    trained = run_pipeline(write_run_file(ws, tiny_bert_dir, TRAIN_ENTRY.replace("epochs: 2", "epochs: 1")))
    expected = trained["results"][0]["test"]
    weights = os.path.join(ws, "weights.pdparams")
    paddle.save(trained["task"].network.state_dict(), weights)
    ckpt = os.path.join(ws, "ckpt")
    for name, init in (("dir", ckpt), ("best", os.path.join(ckpt, "best_model")), ("file", weights)):
        entries = (f'  - {{name: eval_{name}, class: evaluate, phases: [test], checkpoint_dir: "ck_{name}", '
                   f'init_model_path: "{init}"}}\n')
        context = run_pipeline(write_run_file(ws, tiny_bert_dir, entries, name=f"eval_{name}.yaml"))
        assert context["init_model"].startswith(init)
        result = context["results"][0]["test"]
        assert result["acc"] == expected["acc"], name
        np.testing.assert_allclose(result["loss"], expected["loss"], rtol=1e-5)


def test_warm_start_refuses_weights_of_another_network(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    os.makedirs(ws)
    paddle.save({"fc.weight": paddle.zeros([3, 3])}, os.path.join(ws, "other.pdparams"))
    entries = '  - {name: e, class: evaluate, init_model_path: "{workspace}/other.pdparams"}\n'
    with pytest.raises(StageError, match=r"startup stage .*none of the 1 tensors in .*other.pdparams belong"):
        run_pipeline(write_run_file(ws, tiny_bert_dir, entries))


def test_a_stage_skips_ahead_to_the_terminal(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    write_file(ws, "skip.py", "from hubtrain.pipeline import Network as DefaultNetwork\n\n"
                              "class Network(DefaultNetwork):\n"
                              "    def build_network(self, context):\n"
                              "        super().build_network(context)\n"
                              "        context['status'] = 'terminal_pass'\n")
    entries = TRAIN_ENTRY + '    network_class_path: "{workspace}/skip.py"\n'
    context = run_pipeline(write_run_file(ws, tiny_bert_dir, entries))
    assert [s for s, _ in _stages(context, "train")] == ["instance", "network", "terminal"]
    assert context["results"] == [] and context["task"].train_state.global_step == 0


def test_a_split_the_dataset_lacks_is_named_by_its_key(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    entries = "  - {name: e, class: evaluate, phases: [dev]}\n"
    path = write_run_file(ws, tiny_bert_dir, entries)
    with open(path) as f:
        text = f.read().replace(" dev_file: dev.tsv,", "")
    with open(path, "w") as f:
        f.write(text)
    with pytest.raises(RunFileError, match=r"run.yaml:\d+: runner\[0\].phases: the dataset has no 'dev' split"):
        run_pipeline(path)


def test_a_predict_only_run_uses_the_best_model_of_its_checkpoint_dir(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    one_epoch = TRAIN_ENTRY.replace("epochs: 2", "epochs: 1")
    trained = run_pipeline(write_run_file(ws, tiny_bert_dir, one_epoch + "  - {name: p, class: predict, phase: test, "
                                                                           "output_file: after_training.jsonl}\n"))
    assert trained["weights"] == "runner[0] 'train' (train)"
    entries = ('  - {name: p, class: predict, phase: test, output_file: later.jsonl, '
               'checkpoint_dir: "{workspace}/ckpt"}\n')
    context = run_pipeline(write_run_file(ws, tiny_bert_dir, entries, name="predict.yaml"))
    assert context["init_model"] == os.path.join(ws, "ckpt", "best_model") == context["weights"]

    def rows(name):
        with open(os.path.join(ws, name)) as f:
            return [json.loads(line) for line in f]

    after, later = rows("after_training.jsonl"), rows("later.jsonl")
    assert len(after) == len(later) == 24
    for a, b in zip(after, later):
        assert a["label"] == b["label"]
        np.testing.assert_allclose(a["probs"], b["probs"], rtol=1e-5)
