"""A run file is checked before anything runs: each problem is one RunFileError naming the file,
the line, the key path and the fix; `hubtrain run` prints it and exits with status 2."""
import os
import re

import pytest

from hubtrain.cli import main as cli
from hubtrain.pipeline import RunFileError, load_run
from hubtrain.pipeline.driver import load_stage_classes
from pipeline_workspace import BBC_RUN

GOOD = BBC_RUN

STAGE = """\
from hubtrain.pipeline import StartupBase, RunnerBase

class Startup(StartupBase):
    pass
"""


def write(tmp_path, extra="", text=None, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text if text is not None else GOOD % extra)
    return str(path)


def refused(tmp_path, extra="", text=None, overrides=(), **kwargs):
    with pytest.raises(RunFileError) as info:
        load_run(write(tmp_path, extra, text), overrides, **kwargs)
    return info.value


def test_a_good_run_file_is_accepted_with_its_defaults(tmp_path):
    spec = load_run(write(tmp_path, "  - {name: test, class: evaluate, phases: [test]}"))
    train, test = spec.entries
    assert train.config.num_epoch == 1 and train.config.strategy.learning_rate == 5e-5
    assert train.config.checkpoint_dir == str(tmp_path / "ckpt") == test.config.checkpoint_dir
    assert test.options["phases"] == ["test"] and spec.workspace == str(tmp_path)
    assert spec.data["task"]["max_seq_len"] == 64


@pytest.mark.parametrize("extra, path, words", [
    ("    epoch: 3", r"runner\[0\].epoch", "unknown key. Did you mean 'epochs'?"),
    ("    phases: [dev]", r"runner\[0\].phases", "'phases' is an option of evaluate entries, not of a train entry"),
    ("    epochs_: 0", r"runner\[0\].epochs_", "unknown key"),
    ("  - {name: train, class: evaluate}", r"runner\[1\].name", "also the name of runner[0]"),
    ("  - {class: fit}", r"runner\[1\].class", "'fit' is not a known runner class"),
    ("  - {class: evaluate, checkpoint_dir: elsewhere}", r"runner\[1\].checkpoint_dir", "share one checkpoint"),
    ("  - {class: evaluate, phases: [validation]}", r"runner\[1\].phases", "use a list of dataset splits"),
    ("  - {class: predict, phase: test, input_file: x.txt}", r"runner\[1\].input_file", "not both"),
    ("  - {class: export, onnx: model.bin}", r"runner\[1\].onnx", "ending in .onnx"),
    ("  - {class: evaluate, init_model_path: nowhere/best_model}", r"runner\[1\].init_model_path", "not found"),
])
def test_runner_entry_errors_name_their_key_path(tmp_path, extra, path, words):
    error = refused(tmp_path, extra)
    assert str(error).startswith(f"{tmp_path}/run.yaml:")
    assert re.search(path, str(error)), str(error)
    assert words in str(error), str(error)


@pytest.mark.parametrize("extra, key, words", [
    ("    epochs: 0", "runner[0].epochs", "RunConfig option 'num_epoch' = 0 is not accepted: use a whole number >= 1"),
    ("    print_interval: -1", "runner[0].print_interval", "'print_interval' is RunConfig's 'log_interval'"),
    ("    batch_size: many", "runner[0].batch_size", "'batch_size' = 'many' is not accepted"),
    ("    eval_interval: sometimes", "runner[0].eval_interval", "'epoch' (at the end of every epoch)"),
    ("    device: tpu", "runner[0].device", "'tpu' is not a known device"),
    ("    epochs: 1\n    num_epoch: 2", "runner[0].num_epoch", "set the same option"),
])
def test_bad_values_are_refused_by_runconfig_under_their_key(tmp_path, extra, key, words):
    text = (GOOD % "").replace("    epochs: 1\n", "") if "epochs" in extra else None
    if text is not None:
        text = text.replace("    checkpoint_dir:", extra + "\n    checkpoint_dir:")
    error = refused(tmp_path, extra if text is None else "", text)
    assert error.key_path == key and words in str(error), str(error)


@pytest.mark.parametrize("old, new, key, words", [
    ("module:", "modul:", "modul", "unknown key. Did you mean 'module'?"),
    ("{name: all-minilm-l6-v2}", "{name: all-minilm}", "module.name", "unknown module name 'all-minilm'"),
    ("{name: all-minilm-l6-v2}", "{name: x, directory: y}", "module", "exactly one of name"),
    ("class: BBCNews,", "class: BBCNewz,", "dataset.class", "Did you mean 'BBCNews'?"),
    ("few_shot: 5", "few_shot: 0", "dataset.few_shot", "a whole number >= 1"),
    ("few_shot: 5", "few_shot: 5, splitt: [0.5, 0.5]", "dataset.splitt", "Did you mean 'split'?"),
    ("max_seq_len: 64", "max_seq_len: 64, metrics_choices: [bleu]", "task.metrics_choices",
     "TextClassifierTask computes ['acc'"),
    ("max_seq_len: 64", "max_seq_len: 2", "task.max_seq_len", "a whole number of tokens >= 3"),
    ("max_seq_len: 64", "max_seq_len: 64, config: {}", "task.config", "(the run sets it itself)"),
    ("learning_rate: 5e-5", "learning_rate: -1", "strategy.learning_rate", "learning_rate"),
    ("learning_rate: 5e-5", "learning_rate: 5e-5, lr_scheduler: cosine", "strategy.lr_scheduler", "'cosine'"),
    ("AdamWeightDecayStrategy", "AdamStrategy", "strategy.class", "not a known strategy"),
    ("runner:", "runners:", "runners", "Did you mean 'runner'?"),
])
def test_section_errors_name_their_key_path(tmp_path, old, new, key, words):
    error = refused(tmp_path, text=(GOOD % "").replace(old, new, 1))
    assert error.key_path == key and words in str(error), str(error)


def test_stage_class_files_are_checked_before_anything_runs(tmp_path):
    entry = '    startup_class_path: "{workspace}/%s"'
    error = refused(tmp_path, entry % "missing.py")
    assert error.key_path == "runner[0].startup_class_path" and "file not found" in str(error)
    assert "class Startup(StartupBase)" in str(error)

    (tmp_path / "wrong_base.py").write_text(STAGE.replace("class Startup(StartupBase)", "class Startup(RunnerBase)"))
    error = refused(tmp_path, entry % "wrong_base.py")
    assert error.key_path == "runner[0].startup_class_path"
    assert "does not derive from hubtrain.pipeline.StartupBase (it derives from RunnerBase)" in str(error)

    (tmp_path / "no_class.py").write_text("VALUE = 1\n")
    assert "defines no class named Startup" in str(refused(tmp_path, entry % "no_class.py"))

    (tmp_path / "broken.py").write_text("from hubtrain.pipeline import StartupBase\n\nclass Startup(StartupBase\n")
    error = refused(tmp_path, entry % "broken.py")
    assert "broken.py:3: syntax error" in str(error)

    (tmp_path / "aliased.py").write_text("import hubtrain.pipeline as hp\n\nclass Mine(hp.Startup):\n    pass\n\n"
                                         "class Startup(Mine):\n    pass\n")
    assert load_run(write(tmp_path, entry % "aliased.py")).entries[0].stage_files["startup"].endswith("aliased.py")

    # checking reads the file; its top level runs when the run starts, before any stage
    (tmp_path / "raises.py").write_text("from hubtrain.pipeline import StartupBase\n"
                                        "raise ImportError('needs a package')\n\n"
                                        "class Startup(StartupBase):\n    pass\n")
    spec = load_run(write(tmp_path, entry % "raises.py"))
    with pytest.raises(RunFileError) as info:
        load_stage_classes(spec)
    assert "raises.py:2: importing the file raised ImportError: needs a package" in str(info.value)
    assert str(info.value).startswith(f"{tmp_path}/run.yaml:10: runner[0].startup_class_path:")

    (tmp_path / "good.py").write_text(STAGE)
    spec = load_run(write(tmp_path, entry % "good.py"))
    assert spec.entries[0].stage_classes["startup"].__module__ == "hubtrain.pipeline.startup"   # not imported yet
    load_stage_classes(spec)
    cls = spec.entries[0].stage_classes["startup"]
    assert cls.__name__ == "Startup" and cls.__module__.startswith("hubtrain_stage_")


def test_stage_classes_must_lie_inside_the_workspace(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stage.py").write_text(STAGE)
    ws = tmp_path / "ws"
    ws.mkdir()
    os.symlink(outside / "stage.py", ws / "link.py")
    for path in (str(outside / "stage.py"), "{workspace}/../outside/stage.py", "{workspace}/link.py"):
        error = refused(ws, f'    startup_class_path: "{path}"')
        assert error.key_path == "runner[0].startup_class_path"
        assert "is outside the workspace" in str(error) and "--allow-outside-workspace" in str(error)
    spec = load_run(write(ws, f'    startup_class_path: "{outside}/stage.py"'), allow_outside_workspace=True)
    load_stage_classes(spec)
    assert spec.entries[0].stage_classes["startup"].__module__.startswith("hubtrain_stage_")


def test_yaml_problems_name_the_line(tmp_path):
    error = refused(tmp_path, text="module: {}\nrunner:\n  - name: a\n   class: train\n")
    assert str(error).startswith(f"{tmp_path}/run.yaml:4:") and "not valid YAML" in str(error)
    error = refused(tmp_path, text=(GOOD % "").replace("    epochs: 1\n", "    epochs: 1\n    epochs: 2\n"))
    assert error.key_path == "runner[0].epochs" and "written twice (first on line 8)" in str(error)
    assert str(error).startswith(f"{tmp_path}/run.yaml:9: runner[0].epochs:")
    assert "a YAML mapping" in str(refused(tmp_path, text="- just\n- a list\n"))
    error = refused(tmp_path, text="task: {}\nmodule: !!python/object/apply:os.system [echo]\nrunner: []\n")
    assert "not valid YAML" in str(error)                # safe loading: no tag builds objects or runs code


def test_set_overrides_are_checked_like_the_file(tmp_path):
    path = write(tmp_path)
    spec = load_run(path, ["runner[0].epochs=3", "strategy.learning_rate=1e-4", "runner.train.batch_size=8",
                           "task.hidden_units=[16]"])
    config = spec.entries[0].config
    assert (config.num_epoch, config.batch_size, config.strategy.learning_rate) == (3, 8, 1e-4)
    assert spec.data["task"]["hidden_units"] == [16]
    error = refused(tmp_path, overrides=["runner[0].epochs=0"])
    assert error.key_path == "runner[0].epochs" and str(error).startswith(f"{path} (--set): runner[0].epochs:")
    assert refused(tmp_path, overrides=["runner[3].epochs=1"]).key_path == "runner[3]"
    assert "no entry named 'fit'" in str(refused(tmp_path, overrides=["runner.fit.epochs=1"]))
    assert "KEY.PATH=VALUE" in str(refused(tmp_path, overrides=["epochs"]))


def test_hubtrain_run_prints_the_error_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, "    epoch: 2")
    assert cli(["run", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hubtrain run: error: {path}:") and "runner[0].epoch: unknown key" in err
    assert cli(["run", path, "--set", "runner[0].epoch=", "--check"]) == 2
    assert cli(["run", str(tmp_path / "none.yaml")]) == 2
    assert "run file not found" in capsys.readouterr().err
    good = write(tmp_path, name="good.yaml")
    assert cli(["run", good, "--check"]) == 0
    assert "runner entries: train (train)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli(["run"])                                    # FILE.yaml is required: argparse's usage error
    assert exit_info.value.code == 2


def test_dataset_files_are_looked_for_before_anything_runs(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.tsv").write_text("good film\t1\n")
    text = (GOOD % "").replace("{class: BBCNews, few_shot: 5}",
                               '{class: BaseNLPDataset, base_path: data, train_file: train.tsv, dev_file: dev.tsv}')
    error = refused(tmp_path, text=text)
    assert error.key_path == "dataset.dev_file"
    assert f"file not found: {tmp_path}/data/dev.tsv" in str(error) and str(error).startswith(f"{tmp_path}/run.yaml:2")
