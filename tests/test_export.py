"""Inference export: task.export -> hub.Predictor (paddle.inference) and ONNX (onnxruntime) give
what task.predict(data=...) gives, on a tiny BERT text classifier, a small conv net over images
written with OpenCV, and an MLP without a reader; the CLI streams JSON lines; bad inputs fail
naming the input and the fix."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.data.image_io import ImageReadError
from hubtrain.export import ExportFormatError, to_onnx
from hubtrain.cli import main as cli
from tiny import digits_splits, mlp_backbone
from tiny_text import sentiment_dataset

TEXTS = ["the film was good", ["the movie", "was awful"], "bad", "",
         "the movie was " + " ".join(["very"] * 40) + " good"]  # the last is cut at max_seq_len


def _config(tmp, epochs=4):
    return hub.RunConfig(seed=0, num_epoch=epochs, batch_size=8, checkpoint_dir=str(tmp), use_vdl=False, log_interval=100,
                         strategy=hub.AdamWeightDecayStrategy(learning_rate=5e-3, warmup_proportion=0.1))


def _probs(run_states):
    return np.concatenate([rs.run_results[0] for rs in run_states])


def _as_data(examples):
    return [[e] if isinstance(e, str) else list(e) for e in examples]


# ---------------------------------------------------------------- tasks and their exports
@pytest.fixture(scope="module")
def text_task(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    module = hub.Module(directory=tiny_bert_dir)
    reader = hub.reader.ClassifyReader(dataset=sentiment_dataset(root, 64), vocab_path=module.get_vocab_path(),
                                       max_seq_len=24)
    task = hub.TextClassifierTask(data_reader=reader, feature=module, num_classes=2, config=_config(root / "ckpt"))
    task.finetune()
    return task


@pytest.fixture(scope="module")
def text_export(text_task, tmp_path_factory):
    return text_task.export(str(tmp_path_factory.mktemp("exports") / "text"))


class _TinyConv(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        paddle.seed(1)
        self.conv = paddle.nn.Conv2D(3, 8, 3, stride=2, padding=1)

    def forward(self, image):
        return paddle.nn.functional.relu(self.conv(image))


def _write_images(root):
    """Reddish (class 0) and bluish (class 1) noisy images, 20 x 24, as PNG and JPEG."""
    rng = np.random.RandomState(0)
    lines = []
    for i in range(16):
        label = i % 2
        rgb = rng.randint(0, 90, size=(20, 24, 3)).astype(np.uint8)
        rgb[:, :, 2 * label] += 150
        name = f"img{i}.{'png' if i % 3 else 'jpg'}"
        assert cv2.imwrite(str(root / name), rgb[:, :, ::-1])
        lines.append(f"{name} {label}")
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    return [str(root / line.split()[0]) for line in lines]


@pytest.fixture(scope="module")
def image_task(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    paths = _write_images(root)
    dataset = hub.dataset.BaseCVDataset(base_path=str(root), train_list_file="train_list.txt",
                                        label_list=["red", "blue"])
    reader = hub.reader.ImageClassificationReader(image_width=16, image_height=12, dataset=dataset)
    task = hub.ImageClassifierTask(feature=_TinyConv(), num_classes=2, data_reader=reader, feature_dim=8,
                                   config=_config(root / "ckpt", epochs=2))
    task.finetune()
    task.image_paths = paths
    return task


@pytest.fixture(scope="module")
def image_export(image_task, tmp_path_factory):
    return image_task.export(str(tmp_path_factory.mktemp("exports") / "image"))


# ---------------------------------------------------------------- what is written
def test_text_export_writes_model_tokenizer_and_description(text_export):
    names = sorted(os.listdir(text_export))
    assert names == ["hubtrain_export.json", "model.json", "model.pdiparams", "tokenizer"]
    assert {"vocab.txt", "tokenizer_config.json"} <= set(os.listdir(os.path.join(text_export, "tokenizer")))
    meta = json.load(open(os.path.join(text_export, "hubtrain_export.json"), encoding="utf-8"))
    assert (meta["format_version"], meta["task"]["class"], meta["task"]["kind"]) == (1, "TextClassifierTask",
                                                                                     "classifier")
    assert [(i["name"], i["dtype"], i["shape"]) for i in meta["inputs"]] == [
        (name, "int64", [None, None]) for name in ("input_ids", "position_ids", "segment_ids", "input_mask")]
    assert [(o["name"], o["shape"]) for o in meta["outputs"]] == [("probs", [None, 2])]
    assert "softmax" in meta["outputs"][0]["meaning"]
    assert meta["postprocess"] == {"function": "softmax", "included": True}
    assert meta["labels"] == ["neg", "pos"]
    pre = meta["preprocessing"]
    assert (pre["kind"], pre["reader_class"], pre["max_seq_len"], pre["do_lower_case"]) == (
        "text", "ClassifyReader", 24, True)
    assert not [n for n in os.listdir(os.path.dirname(text_export)) if n.startswith(".")]  # no temp dirs left


def test_image_export_records_size_normalisation_and_channel_order(image_export):
    meta = json.load(open(os.path.join(image_export, "hubtrain_export.json"), encoding="utf-8"))
    assert [(i["name"], i["dtype"], i["shape"]) for i in meta["inputs"]] == [("image", "float32", [None, 3, 12, 16])]
    pre = meta["preprocessing"]
    assert (pre["kind"], pre["image_width"], pre["image_height"], pre["channel_order"], pre["layout"]) == (
        "image", 16, 12, "RGB", "CHW")
    np.testing.assert_allclose(pre["images_mean"], [0.485, 0.456, 0.406])
    np.testing.assert_allclose(pre["images_std"], [0.229, 0.224, 0.225])
    assert pre["eval_transform"] == [{"op": "Resize", "width": 16, "height": 12, "interpolation": "auto"}]
    assert meta["labels"] == ["red", "blue"]


# ---------------------------------------------------------------- Predictor == task.predict
def test_text_predictor_matches_task_predict(text_task, text_export):
    expected = _probs(text_task.predict(data=_as_data(TEXTS)))
    predictor = hub.Predictor(text_export, batch_size=2, num_threads=1)
    results = predictor.predict(TEXTS)
    got = np.array([r["probabilities"] for r in results])
    assert np.abs(got - expected).max() < 1e-5
    assert [r["label"] for r in results] == [["neg", "pos"][i] for i in expected.argmax(axis=1)]
    assert expected[:, 1].max() > 0.55 and expected[:, 1].min() < 0.45  # the model learned something


def test_image_predictor_matches_task_predict_on_paths_and_arrays(image_task, image_export):
    paths = image_task.image_paths[:5]
    expected = _probs(image_task.predict(data=[[p] for p in paths]))
    predictor = hub.Predictor(image_export, batch_size=3)
    from hubtrain import cpu_math

    assert predictor.cpu_threads == cpu_math.current().threads  # the threads training chose, unless given
    assert hub.Predictor(image_export, num_threads=1).cpu_threads == 1
    from_paths = np.array([r["probabilities"] for r in predictor.predict(paths)])
    arrays = [cv2.imread(p)[:, :, ::-1].copy() for p in paths]  # RGB uint8, H x W x C
    from_arrays = np.array([r["probabilities"] for r in predictor.predict(arrays)])
    assert np.abs(from_paths - expected).max() < 1e-5
    assert np.abs(from_arrays - expected).max() < 1e-5
    assert [r["label"] for r in predictor.predict(paths)] == [["red", "blue"][i] for i in expected.argmax(axis=1)]


def test_inference_model_matches_dygraph_with_and_without_postprocess(text_task, text_export, tmp_path):
    reader = text_task.data_reader
    encoded = reader.examples_dataset(_as_data(TEXTS))
    batch = reader.collate_fn([encoded[i] for i in range(len(encoded))])
    network = text_task.network
    network.eval()
    with paddle.no_grad():
        logits = network(*[paddle.to_tensor(a) for a in batch])
        probs = text_task._postprocess([logits])[0].numpy()
    logits = logits.numpy()
    assert np.abs(hub.Predictor(text_export).run(batch)[0] - probs).max() < 1e-5

    raw_dir = text_task.export(str(tmp_path / "raw"), postprocess=False)
    meta = json.load(open(os.path.join(raw_dir, "hubtrain_export.json"), encoding="utf-8"))
    assert meta["postprocess"]["included"] is False and "postprocess=False" in meta["postprocess"]["reason"]
    assert [o["name"] for o in meta["outputs"]] == ["logits"]
    raw = hub.Predictor(raw_dir)
    assert np.abs(raw.run(batch)[0] - logits).max() < 1e-5
    got = np.array([r["probabilities"] for r in raw.predict(TEXTS)])  # softmax applied after the model
    assert np.abs(got - probs).max() < 1e-5


class _NumpyPostprocess(hub.TextClassifierTask):
    """A postprocess paddle.jit cannot trace (it goes through numpy)."""

    def _postprocess(self, outputs):
        return [paddle.to_tensor(np.round(np.asarray(outputs[0]), 2))]


def test_untraceable_postprocess_exports_raw_outputs_and_says_so(tiny_bert_dir, tmp_path):
    module = hub.Module(directory=tiny_bert_dir)
    reader = hub.reader.ClassifyReader(vocab_path=module.get_vocab_path(), max_seq_len=16)
    task = _NumpyPostprocess(feature=module, num_classes=3, data_reader=reader)  # never run: inputs from the reader
    meta = json.load(open(os.path.join(task.export(str(tmp_path / "e")), "hubtrain_export.json"), encoding="utf-8"))
    post = meta["postprocess"]
    assert (post["function"], post["included"]) == ("custom", False)
    assert "does not trace" in post["reason"] and "raw network outputs" in post["reason"]
    results = hub.Predictor(str(tmp_path / "e")).predict(["good film", "bad"])
    assert list(results[0]) == ["logits"] and len(results[0]["logits"]) == 3


def test_task_without_reader_needs_its_inputs_then_exports_arrays(tmp_path):
    x = digits_splits()[0].x[:6]
    task = hub.ClassifierTask(feature=mlp_backbone(), num_classes=10, config=_config(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match=r"input shapes are not known yet.*run one batch first.*inputs=.*data_reader"):
        task.export(str(tmp_path / "early"))
    assert not os.path.exists(tmp_path / "early")
    expected = _probs(task.predict(data=[[row] for row in x]))  # one batch makes the inputs known
    directory = task.export(str(tmp_path / "mlp"))
    meta = json.load(open(os.path.join(directory, "hubtrain_export.json"), encoding="utf-8"))
    assert meta["preprocessing"]["kind"] == "none" and meta["inputs"][0]["shape"] == [None, 64]
    results = hub.Predictor(directory).predict(list(x))
    assert np.abs(np.array([r["probabilities"] for r in results]) - expected).max() < 1e-5
    assert [r["label"] for r in results] == expected.argmax(axis=1).tolist()  # no label list: class indices


# ---------------------------------------------------------------- ONNX
@pytest.mark.parametrize("which", ["text", "image"])
def test_onnx_matches_paddle_inference(which, text_export, image_export, text_task, image_task, tmp_path):
    import onnxruntime as ort

    directory = text_export if which == "text" else image_export
    onnx_path = to_onnx(directory, str(tmp_path / "model.onnx"))
    predictor = hub.Predictor(directory)
    examples = TEXTS if which == "text" else image_task.image_paths[:4]
    inputs, _ = predictor.encoder.encode(examples, [f"examples[{i}]" for i in range(len(examples))])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probs"]
    feed = {i.name: a for i, a in zip(session.get_inputs(), inputs)}
    got = session.run(None, feed)[0]
    assert np.abs(got - predictor.run(inputs)[0]).max() < 1e-4


def test_onnx_errors_name_the_problem(text_export, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not a hubtrain export"):
        to_onnx(str(tmp_path), str(tmp_path / "m.onnx"))
    monkeypatch.setitem(sys.modules, "paddle2onnx", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"needs paddle2onnx.*pip install paddle2onnx"):
        to_onnx(text_export, str(tmp_path / "m.onnx"))
    assert not os.path.exists(tmp_path / "m.onnx")


# ---------------------------------------------------------------- CLI
def test_cli_predict_writes_one_json_line_per_input_line_in_order(text_export, tmp_path):
    lines = ["the film was good", "the movie\twas awful", "bad", "", "very good film"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "pred.jsonl"
    assert cli(["predict", text_export, "--input", str(source), "--output", str(out), "--batch-size", "2"]) == 0
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    examples = [line.split("\t") if "\t" in line else line for line in lines]
    assert written == hub.Predictor(text_export).predict(examples)

    # stdout carries the JSON lines only, even with info logging on and a text cut at max_seq_len
    source.write_text("\n".join(lines + [TEXTS[-1]]) + "\n", encoding="utf-8")
    env = dict(os.environ, HUBTRAIN_LOG_LEVEL="INFO")
    run = subprocess.run([sys.executable, "-m", "hubtrain.cli", "predict", text_export, "--input", str(source)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    # the longer text pads its batch further: the same predictions to float32's rounding
    assert len(rows) == len(lines) + 1
    assert [r["label"] for r in rows[:len(lines)]] == [w["label"] for w in written]
    np.testing.assert_allclose([r["probabilities"] for r in rows[:len(lines)]],
                               [w["probabilities"] for w in written], rtol=0, atol=1e-6)
    assert "truncated" in run.stderr  # the reader's log line went to stderr


def test_cli_predict_images_and_export_onnx(image_task, image_export, tmp_path):
    source = tmp_path / "images.txt"
    source.write_text("\n".join(image_task.image_paths[:3]) + "\n", encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    assert cli(["predict", image_export, "--input", str(source), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == hub.Predictor(image_export).predict(image_task.image_paths[:3])
    assert cli(["export", image_export, "--onnx", str(tmp_path / "cnn.onnx")]) == 0
    assert (tmp_path / "cnn.onnx").stat().st_size > 0


def test_cli_errors_name_the_file_line_and_fix(text_export, image_export, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("fine\na\tb\tc\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli(["predict", text_export, "--input", str(source), "--output", str(out)]) == 1
    assert f"{source}:2: 3 tab-separated fields" in capsys.readouterr().err
    assert not out.exists()  # nothing half-written
    source.write_text(f"{tmp_path / 'missing.png'}\n", encoding="utf-8")
    assert cli(["predict", image_export, "--input", str(source), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "missing.png" in err and "not found" in err
    assert cli(["predict", str(tmp_path / "nowhere"), "--input", str(source)]) == 1
    assert "no such export directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["predict", text_export])  # --input is required


# ---------------------------------------------------------------- bad inputs
def test_predictor_refuses_bad_directories(text_export, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such export directory.*task\.export"):
        hub.Predictor(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"not a hubtrain export \(hubtrain_export\.json is missing\)"):
        hub.Predictor(str(tmp_path))
    copy = tmp_path / "copy"
    shutil.copytree(text_export, copy)
    os.remove(copy / "model.pdiparams")
    with pytest.raises(FileNotFoundError, match=r"'model\.pdiparams'.*copy the whole export directory"):
        hub.Predictor(str(copy))
    shutil.copy(os.path.join(text_export, "model.pdiparams"), copy / "model.pdiparams")
    meta = json.load(open(copy / "hubtrain_export.json", encoding="utf-8"))
    meta["format_version"] = 99
    (copy / "hubtrain_export.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ExportFormatError, match=r"version 99 is newer than this hubtrain reads.*upgrade hubtrain"):
        hub.Predictor(str(copy))
    with pytest.raises(ValueError, match=r"batch_size=0"):
        hub.Predictor(text_export, batch_size=0)
    if not paddle.is_compiled_with_cuda():
        with pytest.raises(RuntimeError, match=r"use_gpu=True.*without CUDA.*paddlepaddle-gpu"):
            hub.Predictor(text_export, use_gpu=True)


def test_predictor_refuses_examples_of_the_wrong_kind(text_export, image_export, tmp_path):
    text = hub.Predictor(text_export)
    with pytest.raises(TypeError, match=r"examples\[1\]: a text example is .*got int"):
        text.predict(["fine", 3])
    with pytest.raises(TypeError, match=r"single str; wrap it in a list"):
        text.predict("fine")
    image = hub.Predictor(image_export)
    with pytest.raises(TypeError, match=r"examples\[0\]: an image example is a file path or an \(H, W\[, C\]\)"):
        image.predict([{"path": "x.png"}])
    with pytest.raises(ImageReadError, match=r"missing\.png.*not found"):
        image.predict([str(tmp_path / "missing.png")])


def test_export_refuses_to_replace_other_directories_and_replaces_its_own(text_task, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"not a hubtrain export .*refusing to replace it"):
        text_task.export(str(other))
    assert (other / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        text_task.export(str(tmp_path / "file"))
    first = text_task.export(str(tmp_path / "again"))
    stamp = os.path.getmtime(os.path.join(first, "model.pdiparams"))
    assert text_task.export(str(tmp_path / "again"), postprocess=False) == first  # an export is replaced whole
    meta = json.load(open(os.path.join(first, "hubtrain_export.json"), encoding="utf-8"))
    assert meta["postprocess"]["included"] is False
    assert os.path.getmtime(os.path.join(first, "model.pdiparams")) >= stamp
    assert sorted(os.listdir(tmp_path)) == ["again", "file", "other"]  # no temporary directories left
