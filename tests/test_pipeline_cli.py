"""The `hubtrain` command line: --help on every command, `zoo list`, `train` and `eval` from flags
(the same checks as a run file), exit status 1 for a failing stage, and `hubtrain run` under
`python -m paddle.distributed.launch` with two CPU processes."""
import json

import pytest

from hubtrain.cli import main as cli
from hubtrain.pipeline.runfile import load_text
from launch import launch_two
from pipeline_workspace import TRAIN_ENTRY, write_data, write_file, write_run_file


@pytest.mark.parametrize("command", [[], ["run"], ["train"], ["eval"], ["zoo"], ["zoo", "list"], ["report"],
                                     ["export"], ["predict"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli(command + ["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hubtrain")
    if command and command[0] in ("run", "train", "eval", "report"):
        assert "exit status: 0 done; 1 the run failed" in " ".join(out.split())


def test_zoo_list_names_the_offline_modules(capsys):
    assert cli(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "all-minilm-l6-v2" in out and "mobilenet_v2_imagenet" in out and "module(s); cache:" in out
    assert cli(["zoo", "list", "--kind", "vision"]) == 0
    assert "all-minilm-l6-v2" not in capsys.readouterr().out


def _flags(tmp_path, tiny_bert_dir):
    data = write_data(str(tmp_path / "ws"))
    options = [f"base_path={data}", "train_file=train.tsv", "dev_file=dev.tsv", "test_file=test.tsv",
               "label_list=['0', '1']"]
    flags = ["--module", tiny_bert_dir, "--dataset", "BaseNLPDataset", "--max-seq-len", "32", "--batch-size", "16",
             "--checkpoint-dir", str(tmp_path / "ck")]
    for option in options:
        flags += ["--dataset-option", option]
    return flags


def test_train_then_eval_from_flags(tmp_path, tiny_bert_dir, capsys):
    flags = _flags(tmp_path, tiny_bert_dir)
    assert cli(["train", *flags, "--epochs", "1", "--lr", "5e-3", "--print-run-file"]) == 0
    run = load_text(capsys.readouterr().out)
    assert run["strategy"] == {"class": "AdamWeightDecayStrategy", "learning_rate": 5e-3}
    assert run["runner"][0]["epochs"] == 1 and run["runner"][0]["checkpoint_dir"] == str(tmp_path / "ck")

    assert cli(["train", *flags, "--epochs", "1", "--lr", "5e-3", "--export", str(tmp_path / "exported")]) == 0
    out = capsys.readouterr().out
    trained = load_text(out[out.index("{"):])
    assert trained["steps"] == 4 and (tmp_path / "exported" / "hubtrain_export.json").is_file()
    assert cli(["eval", *flags, "--phases", "test"]) == 0           # the best model of --checkpoint-dir
    out = capsys.readouterr().out
    evaluated = load_text(out[out.index("{"):])
    assert evaluated["test"]["acc"] == trained["test"]["acc"]

    assert cli(["train", *flags, "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hubtrain train: error: flags: runner[0].epochs: RunConfig option 'num_epoch' = 0")
    assert cli(["eval", *flags[:-2], "--checkpoint-dir", str(tmp_path / "none")]) == 2
    assert f"--checkpoint-dir {tmp_path}/none: no such folder" in capsys.readouterr().err


def _raising_run(tmp_path, bert_dir, name, error):
    """A run file whose runner stage is `{workspace}/<name>.py`, a Runner that raises `error`
    (on line 5 of that file)."""
    ws = str(tmp_path / "ws")
    write_file(ws, f"{name}.py", "from hubtrain.pipeline import RunnerBase\n\nclass Runner(RunnerBase):\n"
                                 f"    def run(self, context):\n        raise {error}\n")
    return write_run_file(ws, bert_dir, TRAIN_ENTRY + f'    runner_class_path: "{{workspace}}/{name}.py"\n')


def test_a_failing_stage_exits_1_naming_the_entry_and_stage(tmp_path, tiny_bert_dir, capsys):
    path = _raising_run(tmp_path, tiny_bert_dir, "boom", "RuntimeError('disk full')")
    assert cli(["run", path]) == 1
    err = capsys.readouterr().err
    assert "hubtrain run: failed: runner[0] 'train' (train), runner stage" in err
    assert "RuntimeError: disk full (raised at" in err and "boom.py:5" in err


@pytest.mark.slow
def test_hubtrain_run_under_distributed_launch_two_processes(tmp_path, tiny_bert_dir):
    ws = str(tmp_path / "ws")
    entries = TRAIN_ENTRY + "  - {name: test, class: evaluate, phases: [test]}\n"
    path = write_run_file(ws, tiny_bert_dir, entries)
    done, logs = launch_two(["hubtrain", "run", path], tmp_path / "log", tmp_path, HUBTRAIN_LOG_LEVEL="INFO")
    assert done.returncode == 0, "".join(logs.values())[-3000:]
    worker0, worker1 = logs["workerlog.0"], logs["workerlog.1"]
    assert "step 4 / 4" in worker0                      # 64 examples / 2 ranks / 16, 2 epochs
    assert "done; results in" in worker0 and "done; results in" not in worker1
    ckpt = tmp_path / "ws" / "ckpt"
    entries = json.loads((ckpt / "run_summary.json").read_text())["runs"][-1]["entries"]
    assert [e["runner"] for e in entries] == ["train", "test"]
    assert entries[1]["test"]["acc"] == entries[0]["test"]["acc"]
    assert json.loads((ckpt / "confusion_test.json").read_text())["count"] == 24   # every example once
    assert (ckpt / "scalars.jsonl").is_file() and (ckpt / "best_model" / "manifest.json").is_file()


def test_an_interrupted_run_exits_130_with_its_message(tmp_path, tiny_bert_dir, capsys):
    path = _raising_run(tmp_path, tiny_bert_dir, "stop", "KeyboardInterrupt('stopped after step 3')")
    assert cli(["run", path]) == 130
    assert "hubtrain run: interrupted: stopped after step 3" in capsys.readouterr().err
