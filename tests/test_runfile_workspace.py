"""A run file stays in its workspace: the workspace is the run file's folder (or --workspace),
never a key of the file; every path it names resolves inside it; existing outputs are kept
unless an entry says `overwrite: true`; `--check` imports no stage file; YAML aliases are
bounded; predict and export entries need trained weights; messages name the key at fault."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from hubtrain.pipeline import RunFileError, load_run
from hubtrain.pipeline.runfile import MAX_VALUES
from pipeline_workspace import BBC_RUN

MARKER_STAGE = """\
import pathlib
pathlib.Path(__file__).with_name("imported.marker").write_text("the top level ran")
from hubtrain.pipeline import StartupBase

class Startup(StartupBase):
    pass
"""


def write(directory, extra="", text=None, name="run.yaml"):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text if text is not None else BBC_RUN % extra)
    return path


def refused(path, **kwargs):
    with pytest.raises(RunFileError) as info:
        load_run(path, **kwargs)
    return info.value


def hubtrain(*args, cwd):
    return subprocess.run(["hubtrain", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, HUBTRAIN_LOG_LEVEL="WARNING", PYTHONWARNINGS="ignore"))


def line_of(path, needle):
    with open(path, encoding="utf-8") as f:
        return next(i for i, line in enumerate(f, start=1) if needle in line)


# ---------------------------------------------------------------- the workspace
def test_the_workspace_is_the_run_files_folder_or_the_one_given(tmp_path):
    ws, other = tmp_path / "ws", tmp_path / "other"
    other.mkdir()
    path = write(str(ws), '  - {name: test, class: evaluate, init_model_path: "{workspace}/ckpt/best_model"}')
    (ws / "ckpt" / "best_model").mkdir(parents=True)
    spec = load_run(path)
    assert spec.workspace == str(ws) and spec.checkpoint_dir == str(ws / "ckpt")
    assert spec.entries[1].options["init_model_path"] == str(ws / "ckpt" / "best_model")
    (other / "ckpt" / "best_model").mkdir(parents=True)
    spec = load_run(path, workspace=str(other))
    assert spec.workspace == str(other) and spec.checkpoint_dir == str(other / "ckpt")


def test_a_workspace_key_is_refused_saying_how_to_set_it(tmp_path):
    path = write(str(tmp_path), text='workspace: "/"\n' + BBC_RUN % "")
    error = refused(path)
    assert error.key_path == "workspace" and str(error).startswith(f"{path}:1: workspace: ")
    assert "the folder the run file is in" in str(error) and "--workspace DIR" in str(error)
    with pytest.raises(RunFileError, match=r"\(--set\): workspace: a run file cannot choose its workspace"):
        load_run(write(str(tmp_path), name="good.yaml"), ["workspace=/"])
    assert "directory not found" in str(refused(path.replace("run.yaml", "good.yaml"),
                                                workspace=str(tmp_path / "none")))


def test_the_command_takes_the_workspace_and_refuses_the_key(tmp_path):
    ws, other = tmp_path / "ws", tmp_path / "other"
    other.mkdir()
    path = write(str(ws))
    done = hubtrain("run", path, "--check", "--workspace", str(other), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"workspace {other};" in done.stdout and f"checkpoint_dir {other}/ckpt" in done.stdout
    keyed = write(str(ws), text='workspace: "/"\n' + BBC_RUN % "", name="keyed.yaml")
    done = hubtrain("run", keyed, "--check", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"hubtrain run: error: {keyed}:1: workspace: a run file cannot choose")


# ---------------------------------------------------------------- --check runs nothing
def test_check_imports_no_stage_file_and_a_refused_run_neither(tmp_path):
    ws = tmp_path / "ws"
    path = write(str(ws), '    startup_class_path: "{workspace}/marked.py"')
    (ws / "marked.py").write_text(MARKER_STAGE)
    done = hubtrain("run", path, "--check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout and not (ws / "imported.marker").exists()

    # refused (a path outside the workspace, later in the file): nothing imported, nothing written
    refused_run = write(str(ws), '    startup_class_path: "{workspace}/marked.py"\n'
                                 '  - {name: out, class: predict, output_file: "../out.jsonl"}', name="refused.yaml")
    done = hubtrain("run", refused_run, cwd=tmp_path)
    assert done.returncode == 2 and "runner[1].output_file" in done.stderr
    assert not (ws / "imported.marker").exists() and not (ws / "ckpt").exists()

    # the base is read from the source: a wrong one is refused without running the file
    (ws / "wrong.py").write_text(MARKER_STAGE.replace("StartupBase", "RunnerBase"))
    error = refused(write(str(ws), '    startup_class_path: "{workspace}/wrong.py"', name="wrong.yaml"))
    assert "wrong.py:5 does not derive from hubtrain.pipeline.StartupBase (it derives from RunnerBase)" in str(error)
    assert not (ws / "imported.marker").exists()


# ---------------------------------------------------------------- paths stay inside
def _outside_cases(tmp_path):
    ws, out = tmp_path / "ws", tmp_path / "outside"
    (out / "data").mkdir(parents=True)
    (out / "data" / "train.tsv").write_text("good\t1\n")
    (out / "stage.py").write_text(MARKER_STAGE)
    ws.mkdir()
    os.symlink(out / "data", ws / "linked")
    dataset = "{class: BBCNews, few_shot: 5}"
    return ws, [
        ("    startup_class_path: \"{workspace}/../outside/stage.py\"", None, "runner[0].startup_class_path"),
        ("    checkpoint_dir: \"/tmp\"", "    checkpoint_dir: \"{workspace}/ckpt\"\n", "runner[0].checkpoint_dir"),
        ("    init_model_path: \"{workspace}/linked\"", None, "runner[0].init_model_path"),
        ("    export_dir: \"../exported\"", None, "runner[0].export_dir"),
        ("  - {name: p, class: predict, output_file: \"{workspace}/linked/p.jsonl\"}", None, "runner[1].output_file"),
        ("  - {name: p, class: predict, input_file: \"../outside/data/train.tsv\"}", None, "runner[1].input_file"),
        ("  - {name: x, class: export, onnx: \"/tmp/model.onnx\"}", None, "runner[1].onnx"),
        ("", ("{name: all-minilm-l6-v2}", f'{{directory: "{out}"}}'), "module.directory"),
        ("", (dataset, '{class: BaseNLPDataset, base_path: "{workspace}/linked", train_file: train.tsv}'),
         "dataset.base_path"),
        ("", (dataset, '{class: BaseNLPDataset, train_file: "../outside/data/train.tsv"}'), "dataset.train_file"),
    ]


def test_every_path_a_run_file_names_stays_inside_the_workspace(tmp_path):
    ws, cases = _outside_cases(tmp_path)
    for extra, change, key in cases:
        text = BBC_RUN % extra
        if isinstance(change, tuple):
            text = text.replace(*change)
        elif change:
            text = text.replace(change, "")
        path = write(str(ws), text=text)
        error = refused(path)
        assert error.key_path == key, (key, str(error))
        word = key.split(".")[-1]
        assert str(error).startswith(f"{path}:{line_of(path, word + ':')}: {key}: "), str(error)
        assert "is outside the workspace" in str(error) and "--workspace DIR" in str(error), str(error)
    assert "resolves to" in str(refused(write(str(ws), '    init_model_path: "{workspace}/linked"')))
    assert not (ws / "imported.marker").exists() and not (tmp_path / "outside" / "imported.marker").exists()
    # the person running it may widen the workspace, or accept the paths outside
    path = write(str(ws), f'    export_dir: "{tmp_path}/exported"')
    assert refused(path).key_path == "runner[0].export_dir"
    assert load_run(path, workspace=str(tmp_path)).entries[0].options["export_dir"] == str(tmp_path / "exported")
    assert load_run(path, allow_outside_workspace=True).entries[0].options["export_dir"] == str(tmp_path / "exported")


def test_existing_outputs_are_kept_unless_the_entry_says_overwrite(tmp_path):
    ws = tmp_path / "ws"
    (ws / "mine").mkdir(parents=True)
    (ws / "mine" / "notes.txt").write_text("keep me")
    (ws / "old.jsonl").write_text("keep me too")
    (ws / "model.onnx").write_text("an older model")
    train = "    max_steps: 1\n"
    for extra, key in ((train + '  - {name: p, class: predict, output_file: "old.jsonl"}', "runner[1].output_file"),
                       (train + '  - {name: x, class: export, onnx: "model.onnx"}', "runner[1].onnx"),
                       (train + '  - {name: x, class: export, export_dir: "mine"}', "runner[1].export_dir"),
                       ('    export_dir: "{workspace}/mine"\n', "runner[0].export_dir")):
        error = refused(write(str(ws), extra))
        assert error.key_path == key and "overwrite: true" in str(error), str(error)
        allowed = extra[:-1] + ", overwrite: true}" if extra.endswith("}") else extra + "    overwrite: true"
        assert load_run(write(str(ws), allowed, name="over.yaml")).entries[-1].options["overwrite"] is True
    assert "exists and this entry would overwrite it" in str(refused(write(
        str(ws), train + '  - {name: p, class: predict, output_file: "old.jsonl"}')))

    # from the command line: refused before any stage runs, the file as it was
    path = write(str(ws), train + '  - {name: p, class: predict, output_file: "old.jsonl"}')
    done = hubtrain("run", path, cwd=tmp_path)
    assert done.returncode == 2 and "runner[1].output_file" in done.stderr and "overwrite: true" in done.stderr
    assert (ws / "old.jsonl").read_text() == "keep me too" and not (ws / "ckpt").exists()
    assert (ws / "mine" / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------- bounded YAML
def _laughs(levels=10):
    """Nested aliases: each level lists the one before nine times (9**levels strings)."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    names = "abcdefghijklmnop"
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_nested_aliases_are_refused_at_once_naming_the_file(tmp_path):
    path = write(str(tmp_path), text=_laughs(10), name="laughs.yaml")
    assert os.path.getsize(path) < 400
    begin = time.perf_counter()
    error = refused(path)
    elapsed = time.perf_counter() - begin
    assert elapsed < 1.0, elapsed
    assert str(error).startswith(f"{path}:") and f"more than {MAX_VALUES:,} values" in str(error)
    assert "an alias refers to the anchor it is inside of" in str(
        refused(write(str(tmp_path), text="a: &a [1, *a]\n", name="loop.yaml")))
    # aliases as people write them still load
    text = (BBC_RUN % "").replace("    epochs: 1\n", "    epochs: &one 1\n    seed: *one\n")
    assert load_run(write(str(tmp_path), text=text, name="ok.yaml")).entries[0].config.seed == 1


def test_nested_aliases_cost_little_memory(tmp_path):
    path = write(str(tmp_path), text=_laughs(10), name="laughs.yaml")
    probe = textwrap.dedent(f"""
        import resource, time
        from hubtrain.pipeline.errors import RunFileError
        from hubtrain.pipeline.runfile import read_yaml
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        begin = time.perf_counter()
        try:
            read_yaml({path!r})
        except RunFileError as e:
            message = str(e)
        elapsed = time.perf_counter() - begin
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(elapsed, grown, message.startswith({path!r}))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    elapsed, grown_kib, named = done.stdout.split()
    assert named == "True" and float(elapsed) < 1.0
    assert int(grown_kib) < 100 * 1024, f"peak RSS grew by {grown_kib} KiB"


# ---------------------------------------------------------------- weights for predict and export
def test_predict_or_export_without_trained_weights_is_refused(tmp_path):
    only = "  - {name: guess, class: predict, output_file: out.jsonl}\n"
    text = (BBC_RUN % "").split("runner:")[0] + "runner:\n" + only
    error = refused(write(str(tmp_path), text=text))
    assert error.key_path == "runner[0]" and str(error).startswith(f"{tmp_path}/run.yaml:6: runner[0]: 'guess'")
    for fix in ("Add a train entry before it", "init_model_path:", "set checkpoint_dir: to the directory of a run"):
        assert fix in str(error)
    export = text.replace(only, "  - {name: ship, class: export}\n")
    assert "'ship' (export) has no trained weights" in str(refused(write(str(tmp_path), text=export)))
    # weights from a train entry before it, an init_model_path, or a best model in the checkpoint_dir
    assert load_run(write(str(tmp_path), "    max_steps: 1\n" + only)).entries[1].kind == "predict"
    (tmp_path / "weights.pdparams").write_bytes(b"")
    load_run(write(str(tmp_path), text=text.replace("output_file: out.jsonl", "init_model_path: weights.pdparams")))
    (tmp_path / "ckpt" / "best_model").mkdir(parents=True)
    load_run(write(str(tmp_path), text=text))


# ---------------------------------------------------------------- messages that point at the key
def test_max_steps_0_is_named_with_its_line_and_range(tmp_path):
    path = write(str(tmp_path), "    max_steps: 0")
    error = refused(path)
    assert error.key_path == "runner[0].max_steps"
    assert str(error).startswith(f"{path}:{line_of(path, 'max_steps')}: runner[0].max_steps: ")
    assert "'max_steps' = 0 is not accepted: use a whole number of steps >= 1" in str(error)


def test_a_dataset_without_train_file_is_named_for_the_train_entry(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dev.tsv").write_text("good\t1\n")
    text = (BBC_RUN % "").replace("{class: BBCNews, few_shot: 5}",
                                  '{class: BaseNLPDataset, base_path: data, dev_file: dev.tsv, label_list: ["0", "1"]}')
    error = refused(write(str(tmp_path), text=text))
    assert error.key_path == "dataset.train_file" and str(error).startswith(f"{tmp_path}/run.yaml:2: ")
    assert "the dataset has no train_file, and runner[0] 'train' is a train entry" in str(error)
    assert "num_classes" not in str(error)
