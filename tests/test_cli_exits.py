"""The command line's exits and messages, on real subprocesses and files: SIGINT ends any command
with status 130 and SIGTERM with 143, one line on stderr and no traceback (training first writes
a checkpoint); `hubtrain predict` reads the fields the model takes; `hubtrain eval` and
`hubtrain export` name the option and the folder that is wrong; `hubtrain export` turns a
checkpoint folder into an export directory."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hubtrain.cli import main as cli
from pipeline_workspace import TRAIN_ENTRY, write_data, write_file, write_run_file


def _start(argv, workdir, out):
    log = open(out, "w")
    proc = subprocess.Popen([sys.executable, "-m", "hubtrain", *argv], cwd=str(workdir), stdout=log,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1",
                                                                          HUBTRAIN_LOG_LEVEL="INFO"))
    return proc, log


def _wait_for(path, text, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(path, encoding="utf-8") as f:
            if text in f.read():
                return
        assert proc.poll() is None, f"ended ({proc.returncode}) before {text!r}: {proc.stderr.read()[-2000:]}"
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in {path} within {seconds}s")


def _stop(proc, log, sig):
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    log.close()
    return proc.returncode, [line for line in err.splitlines() if line.startswith("hubtrain")]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_in_demo_training_writes_a_checkpoint_and_exits_with_one_line(tmp_path, sig, code):
    ckpt = tmp_path / "ck"
    proc, log = _start(["demo", "--task", "digits", "--checkpoint-dir", str(ckpt)], tmp_path, tmp_path / "out.log")
    _wait_for(tmp_path / "out.log", "[dev dataset evaluation result]", proc)  # the fine-tuning has begun
    status, lines = _stop(proc, log, sig)
    name = signal.Signals(sig).name
    assert status == code, lines
    assert lines[0].startswith(f"hubtrain: {name} received: finishing the current step")
    assert lines[-1].startswith(f"hubtrain demo: interrupted: Training stopped by {name} after step ")
    step = int(lines[-1].split(" after step ")[1].split()[0])
    assert f"checkpoint written to {ckpt / f'step_{step}'}" in lines[-1]
    assert (ckpt / f"step_{step}").is_dir() and len(lines) == 2


@pytest.fixture
def waiting_run(tmp_path, tiny_bert_dir):
    """A run file whose runner stage says 'waiting' and sleeps: a command stopped outside training."""
    ws = str(tmp_path / "ws")
    write_file(ws, "wait.py", "import time\nfrom hubtrain.pipeline import RunnerBase\n\nclass Runner(RunnerBase):\n"
                              "    def run(self, context):\n        print('waiting', flush=True)\n"
                              "        time.sleep(120)\n")
    return write_run_file(ws, tiny_bert_dir, TRAIN_ENTRY + '    runner_class_path: "{workspace}/wait.py"\n')


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "hubtrain run: interrupted"),
                                              (signal.SIGTERM, 143, "hubtrain run: interrupted: SIGTERM received")])
def test_a_signal_outside_training_ends_hubtrain_run_with_one_line(tmp_path, waiting_run, sig, code, said):
    proc, log = _start(["run", waiting_run], tmp_path, tmp_path / "out.log")
    _wait_for(tmp_path / "out.log", "waiting", proc)
    status, lines = _stop(proc, log, sig)
    assert (status, lines) == (code, [said])


# ---------------------------------------------------------------- eval, export and predict from flags
def _flags(root, bert_dir):
    data = write_data(str(root / "ws"))
    flags = ["--module", bert_dir, "--dataset", "BaseNLPDataset", "--max-seq-len", "32"]
    for option in (f"base_path={data}", "train_file=train.tsv", "dev_file=dev.tsv", "test_file=test.tsv",
                   "label_list=['0', '1']"):
        flags += ["--dataset-option", option]
    return flags


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert_dir):
    """A checkpoint directory written by `hubtrain train`, and the flags that built its network."""
    root = tmp_path_factory.mktemp("trained")
    flags = _flags(root, tiny_bert_dir)
    ckpt = root / "ck"
    assert cli(["train", *flags, "--checkpoint-dir", str(ckpt), "--epochs", "1", "--lr", "5e-3"]) == 0
    return ckpt, flags


@pytest.fixture(scope="module")
def exported(trained):
    ckpt, flags = trained
    assert cli(["export", str(ckpt / "best_model"), *flags]) == 0
    return str(ckpt / "export")


def test_eval_names_the_checkpoint_dir_that_is_missing_or_empty(trained, tmp_path, capsys):
    _, flags = trained
    assert cli(["eval", *flags, "--checkpoint-dir", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == (f"hubtrain eval: error: --checkpoint-dir {tmp_path / 'nowhere'}: no such "
                                       f"folder; give the checkpoint directory a `hubtrain train` run wrote (its "
                                       f"best_model/ or a step_N/ also do), or train first.\n")
    (tmp_path / "empty").mkdir()
    assert cli(["eval", *flags, "--checkpoint-dir", str(tmp_path / "empty")]) == 2
    assert "--checkpoint-dir" in capsys.readouterr().err and os.listdir(tmp_path / "empty") == []


def test_export_writes_an_export_directory_from_a_checkpoint(exported, trained, tmp_path, capsys):
    from hubtrain.export import Predictor, read_metadata

    ckpt, flags = trained
    meta = read_metadata(exported)
    assert meta["task"]["class"] == "TextClassifierTask" and meta["labels"] == ["0", "1"]
    texts = ["the film was great", "the movie was poor"]
    # the export holds the trained weights: its predictions are the checkpoint's, as eval loads them
    probabilities = [row["probabilities"] for row in Predictor(exported).predict(texts)]
    assert len(probabilities) == 2 and all(abs(sum(p) - 1) < 1e-5 for p in probabilities)

    assert cli(["export", exported]) == 2  # an export directory already: ONNX needs --onnx
    assert "is an export directory already; give --onnx OUT.onnx" in capsys.readouterr().err
    assert cli(["export", str(ckpt)]) == 2  # weights only, nothing says which network
    assert "holds weights only; say which network they belong to" in capsys.readouterr().err
    assert cli(["export", str(tmp_path / "nowhere"), *flags]) == 2
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def _predict(export, lines, tmp_path, *options, raw=None):
    source = tmp_path / "in.txt"
    source.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode("utf-8"))
    out = tmp_path / "out" / "pred.jsonl"
    if out.exists():
        out.unlink()
    status = cli(["predict", export, "--input", str(source), "--output", str(out), *options])
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else None
    return status, rows, str(source)


def test_predict_reads_text_and_label_lines_only_when_told_which_column(exported, tmp_path, capsys):
    from hubtrain.export import Predictor

    status, rows, source = _predict(exported, ["the film was great\t1", "bad movie\t0"], tmp_path)
    assert (status, rows) == (1, None)  # refused before the output file is written
    assert capsys.readouterr().err == (f"hubtrain predict: error: {source}:1: the second field '1' is one of the "
                                       f"model's labels, so the line looks like text<TAB>label, not a text pair. "
                                       f"Give --columns 1 to read the first field as the text, --columns 1,2 for a "
                                       f"text pair.\n")
    status, rows, _ = _predict(exported, ["the film was great\t1", "bad movie\t0"], tmp_path, "--columns", "1")
    assert status == 0 and rows == Predictor(exported).predict(["the film was great", "bad movie"])

    status, rows, source = _predict(exported, ["a\tb\tc"], tmp_path)
    assert status == 1 and rows is None
    assert f"{source}:1: 3 tab-separated fields; the model takes one text or text_a<TAB>text_b." \
        in capsys.readouterr().err
    assert _predict(exported, ["x"], tmp_path, "--columns", "1,2,3")[0] == 1
    assert "--columns 1,2,3: this export's model takes one text or a text pair" in capsys.readouterr().err


def test_predict_refuses_a_header_line_unless_told_to_skip_it(exported, tmp_path, capsys):
    status, rows, source = _predict(exported, ["text_a", "the film was great"], tmp_path)
    assert (status, rows) == (1, None)
    assert f"{source}:1: looks like a header line ('text_a'), not an example; give --header" in \
        capsys.readouterr().err
    status, rows, _ = _predict(exported, ["text_a", "the film was great"], tmp_path, "--header")
    assert status == 0 and len(rows) == 1


def test_predict_names_file_line_byte_and_column_of_bytes_that_are_not_utf8(exported, tmp_path, capsys):
    raw = "fine\n".encode("utf-8") + "caf\u00e9 ok\n".encode("latin-1")
    status, rows, source = _predict(exported, None, tmp_path, raw=raw)
    assert (status, rows) == (1, None)
    assert capsys.readouterr().err.startswith(f"hubtrain predict: error: {source}:2: not UTF-8 (byte 0xe9 at "
                                              f"column 4); save the file as UTF-8")
