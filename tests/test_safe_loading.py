"""No code runs from a weights file a user gives hubtrain: a pickle whose `__reduce__` calls
`os.system` (to create a marker file) is refused, naming the file and the call, through every
path that reads such a file (warm start, hub.Module, task.load, load_state, hub.Predictor and the
`predict` and `export` commands), the marker never appearing; files paddle.save writes load as
paddle.load loads them."""
import json
import os
import pickle
import random
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.pipeline.warm_start import warm_start
from hubtrain.serialization.paddle_pickle import PaddleFileError, load_legacy_pickle, load_paddle_file
from hubtrain.serialization.restricted_pickle import UnsafeFileError
from hubtrain.zoo.convert import load_state
from pipeline_workspace import write_data
from tiny import mlp_backbone
from tiny_text import sentiment_dataset

REFUSAL = "refusing to load posix.system: a weights file may only hold tensors"


class _Payload:
    """Unpickled by an unrestricted unpickler, runs `touch marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _evil(path, marker, protocol=4, around=None):
    """A pickle at `path` whose value (or its entry "payload" among `around`'s real arrays) runs the payload."""
    obj = _Payload(marker) if around is None else dict(around, payload=_Payload(marker))
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return str(path)


def _refused(call, path, marker, kind=UnsafeFileError):
    with pytest.raises(kind) as err:
        call()
    assert str(path) in str(err.value)
    assert not os.path.exists(marker)
    return str(err.value)


def _same(ours, theirs, where="."):
    """ours == paddle.load's result: types, keys, dtypes, values and tensor names."""
    if isinstance(theirs, paddle.Tensor):
        assert isinstance(ours, paddle.Tensor), where
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, where
        assert np.array_equal(ours.numpy(), theirs.numpy()), where
        if not theirs.name.startswith("generated_tensor"):  # paddle names a fresh tensor itself
            assert ours.name == theirs.name, where
        return
    assert type(ours) is type(theirs), (where, type(ours), type(theirs))
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        for key in theirs:
            _same(ours[key], theirs[key], f"{where}/{key}")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}/{i}")
    elif isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), where
    else:
        assert ours == theirs, where


def _mlp_task(**config):
    return hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=hub.RunConfig(**config))


def _trained_network_and_optimizer():
    """A network with float32, float16 and int64 tensors, and an Adam optimizer with an LR schedule
    that has taken a step."""
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(3, 4), paddle.nn.BatchNorm1D(4))
    schedule = paddle.optimizer.lr.StepDecay(0.1, step_size=1)
    optimizer = paddle.optimizer.Adam(schedule, parameters=net.parameters())
    net(paddle.randn([5, 3])).mean().backward()
    optimizer.step()
    schedule.step()
    net.register_buffer("ids", paddle.to_tensor([3, -1, 7], dtype="int64"))
    net.register_buffer("scale16", paddle.to_tensor([0.5, -2.0], dtype="float16"))
    return net, optimizer


# ---------------------------------------------------------------- genuine files
@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_files_paddle_save_writes_load_as_paddle_load_loads_them(tmp_path, protocol):
    net, optimizer = _trained_network_and_optimizer()
    opt_state = optimizer.state_dict()
    assert opt_state["LR_Scheduler"]["last_epoch"] == 1
    master = dict(opt_state, master_weights={p.name: p.astype("float32") for p in net.parameters()})
    objects = {
        "model.pdparams": net.state_dict(),
        "adam.pdopt": opt_state,
        "master.pdopt": master,  # nested tensors: paddle pickles each as tuple((name, array))
        "nested.pd": {"a": [paddle.ones([2], dtype="int64"), 3, "s"], "b": (1, 2.5), "c": {"d": np.arange(3)}},
        "tensor.pd": paddle.to_tensor([[1.5, 2.0]], dtype="float16"),
        "array.pd": np.arange(6, dtype=np.int64).reshape(2, 3),
    }
    for name, obj in objects.items():
        path = str(tmp_path / name)
        paddle.save(obj, path, protocol=protocol)
        _same(load_paddle_file(path), paddle.load(path), name)
        _same(load_paddle_file(path, return_numpy=True), paddle.load(path, return_numpy=True), name)
    state = load_paddle_file(str(tmp_path / "model.pdparams"))
    assert state["ids"].dtype == paddle.int64 and state["scale16"].dtype == paddle.float16


def test_static_files_and_tensors_saved_in_slices_load_as_paddle_load_loads_them(tmp_path):
    paddle.enable_static()
    try:
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data("x", [None, 3], "float32")
            paddle.static.nn.fc(x, 2)
        paddle.static.Executor().run(startup)
        paddle.static.save(main, str(tmp_path / "static"))
        dense = next(iter(main.state_dict().values()))  # a DenseTensor: paddle pickles it as eval("data", ...)
        paddle.save({"w": [dense]}, str(tmp_path / "dense.pd"))
    finally:
        paddle.disable_static()
    # protocols 2 and 3 split a tensor over 1 GB into slices; the same layout, small
    whole = np.arange(12, dtype=np.float32)
    sliced = {"w": whole[:5], "w@@.0": whole[:7], "w@@.1": whole[7:], "b": np.ones(2, np.float32),
              "UnpackBigParamInfor@@": {"w": {"OriginShape": (3, 4), "slices": ["w@@.0", "w@@.1"]}}}
    del sliced["w"]
    with open(tmp_path / "sliced.pdparams", "wb") as f:
        pickle.dump(sliced, f, protocol=2)
    for name in ("static.pdparams", "dense.pd", "sliced.pdparams"):
        path = str(tmp_path / name)
        _same(load_paddle_file(path), paddle.load(path), name)
    assert load_paddle_file(str(tmp_path / "sliced.pdparams"))["w"].shape == [3, 4]


def test_rng_pickle_of_older_checkpoints_restores_the_generators(tmp_path):
    paddle.seed(3)
    np.random.seed(3)
    random.seed(3)
    path = tmp_path / "rng.pkl"
    with open(path, "wb") as f:
        pickle.dump({"paddle": paddle.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
                    f, protocol=4)
    want = (paddle.rand([3]).numpy(), np.random.rand(3), random.random())
    state = load_legacy_pickle(str(path))
    paddle.set_rng_state(state["paddle"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    got = (paddle.rand([3]).numpy(), np.random.rand(3), random.random())
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and got[2] == want[2]

    marker = tmp_path / "pwned"
    evil = _evil(tmp_path / "evil_rng.pkl", marker, around={"numpy": np.random.get_state()})
    message = _refused(lambda: load_legacy_pickle(evil), evil, marker)
    assert "refusing to load posix.system: rng.pkl may only hold random-generator states" in message


def test_task_load_matches_paddle_model_load(tmp_path):
    task = _mlp_task()
    task.prepare(paddle.optimizer.Adam(1e-2, parameters=task.parameters()), paddle.nn.CrossEntropyLoss())
    x, y = np.random.RandomState(0).rand(8, 64).astype("float32"), np.arange(8).reshape(8, 1) % 10
    task.train_batch([x], [y])
    task.save(str(tmp_path / "saved"))
    saved = [p.numpy() for p in task.parameters()]
    after = {}
    for name, load in (("ours", lambda: task.load(str(tmp_path / "saved.pdparams"))),
                       ("paddle's", lambda: paddle.Model.load(task, str(tmp_path / "saved")))):
        task.train_batch([x], [y])  # move away from what was saved
        load()
        assert all(np.array_equal(p.numpy(), s) for p, s in zip(task.parameters(), saved)), name
        paddle.seed(5)
        task.train_batch([x], [y])  # a step from the restored optimizer moments
        after[name] = [p.numpy() for p in task.parameters()]
    for a, b in zip(after["ours"], after["paddle's"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)

    other = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=3, config=hub.RunConfig())
    other.prepare(paddle.optimizer.Adam(1e-2, parameters=other.parameters()))
    with pytest.raises(ValueError, match="receives a shape"):
        other.load(str(tmp_path / "saved"))
    with pytest.warns(UserWarning, match="Skip loading for"):
        other.load(str(tmp_path / "saved"), skip_mismatch=True)
    with pytest.raises(FileNotFoundError, match="no parameters file"):
        other.load(str(tmp_path / "absent"))


def test_load_state_reads_paddle_state_dicts(tmp_path):
    net, _ = _trained_network_and_optimizer()
    paddle.save(net.state_dict(), str(tmp_path / "net.pdparams"))
    state = load_state(tmp_path / "net.pdparams")
    assert sorted(state) == sorted(net.state_dict())
    for key, value in net.state_dict().items():
        assert state[key].dtype == value.numpy().dtype and np.array_equal(state[key], value.numpy())
    os.rename(tmp_path / "net.pdparams", tmp_path / "model_state.pdparams")
    assert sorted(load_state(tmp_path)) == sorted(state)


# ---------------------------------------------------------------- crafted files, refused
@pytest.mark.parametrize("protocol", [2, 4])
def test_crafted_pickle_is_refused_alone_or_among_real_tensors(tmp_path, protocol):
    marker = tmp_path / "pwned"
    alone = _evil(tmp_path / "alone.pdparams", marker, protocol)
    message = _refused(lambda: load_paddle_file(alone), alone, marker)
    assert message.startswith(f"{alone}: {REFUSAL}") and "Nothing from the file was run" in message
    hidden = _evil(tmp_path / "hidden.pdparams", marker, protocol, {"w": np.ones(3, np.float32)})
    _refused(lambda: load_paddle_file(hidden), hidden, marker)
    # paddle's DenseTensor record is eval("data", {...}); any other expression is refused
    with open(tmp_path / "eval.pdparams", "wb") as f:
        pickle.dump({"w": _Eval(f"__import__('os').system('touch {marker}')")}, f, protocol=protocol)
    message = _refused(lambda: load_paddle_file(str(tmp_path / "eval.pdparams")), tmp_path / "eval.pdparams", marker)
    assert "refusing to load builtins.eval of" in message
    (tmp_path / "text.pdparams").write_text("not a pickle")
    with pytest.raises(PaddleFileError, match="not a file paddle.save writes"):
        load_paddle_file(str(tmp_path / "text.pdparams"))


class _Eval:
    def __init__(self, expression):
        self.expression = expression

    def __reduce__(self):
        return eval, (self.expression, {"data": np.ones(1)})


def test_warm_start_refuses_a_crafted_file(tmp_path):
    marker = tmp_path / "pwned"
    evil = _evil(tmp_path / "evil.pdparams", marker, around={"fc.weight": np.ones(2, np.float32)})
    message = _refused(lambda: warm_start(_mlp_task(), evil), evil, marker)
    assert REFUSAL in message


def test_module_directories_and_pretrained_files_refuse_crafted_weights(tmp_path, tiny_bert_dir):
    marker = tmp_path / "pwned"
    text = tmp_path / "text_module"
    shutil.copytree(tiny_bert_dir, text)
    evil = _evil(text / "model_state.pdparams", marker)
    _refused(lambda: hub.Module(directory=str(text)), evil, marker)

    vision = tmp_path / "vision_module"
    vision.mkdir()
    (vision / "hubtrain_module.json").write_text(json.dumps({"type": "vision", "arch": "resnet18",
                                                             "weights": "model.pdparams"}))
    evil = _evil(vision / "model.pdparams", marker)
    _refused(lambda: hub.Module(directory=str(vision)), evil, marker)
    _refused(lambda: hub.Module(name="resnet18", pretrained=evil), evil, marker)

    # the tokenizer's files: paddlenlp's ErnieTinyTokenizer unpickles its word dictionary
    tokenizer = tmp_path / "ernie_tiny_module"
    shutil.copytree(tiny_bert_dir, tokenizer)
    _as_ernie_tiny(tokenizer, marker)
    message = _refused(lambda: hub.Module(directory=str(tokenizer)), tokenizer / "dict.wordseg.pickle", marker)
    assert "refusing to load posix.system: a pickle beside a model may only hold data" in message


def test_module_save_writes_safetensors_that_load_back(tmp_path):
    module = hub.Module(name="resnet18", pretrained=False)
    saved = module.save(str(tmp_path / "r18"))
    assert sorted(os.listdir(saved)) == ["hubtrain_module.json", "model.safetensors"]
    again = hub.Module(directory=saved)
    for key, value in module.backbone.state_dict().items():
        assert np.array_equal(again.backbone.state_dict()[key].numpy(), value.numpy())
    # a module directory of an older hubtrain: model.pdparams, read through the restricted unpickler
    paddle.save(module.backbone.body.state_dict(), str(tmp_path / "r18" / "model.pdparams"))
    info = json.loads((tmp_path / "r18" / "hubtrain_module.json").read_text())
    (tmp_path / "r18" / "hubtrain_module.json").write_text(json.dumps(dict(info, weights="model.pdparams")))
    old = hub.Module(directory=saved)
    for key, value in module.backbone.state_dict().items():
        assert np.array_equal(old.backbone.state_dict()[key].numpy(), value.numpy())


def test_task_load_and_load_state_refuse_crafted_files(tmp_path):
    marker = tmp_path / "pwned"
    evil = _evil(tmp_path / "evil.pdparams", marker, around={"w": np.ones(2, np.float32)})
    task = _mlp_task()
    task.prepare(paddle.optimizer.Adam(1e-2, parameters=task.parameters()))
    _refused(lambda: task.load(str(tmp_path / "evil")), evil, marker)
    _refused(lambda: load_state(evil), evil, marker)

    task.save(str(tmp_path / "good"))  # real parameters, a crafted optimizer file beside them
    evil_opt = _evil(tmp_path / "good.pdopt", marker)
    _refused(lambda: task.load(str(tmp_path / "good")), evil_opt, marker)
    task.load(str(tmp_path / "good"), reset_optimizer=True)  # the optimizer file is not read
    assert not marker.exists()


# ---------------------------------------------------------------- exports and the command line
def _as_ernie_tiny(directory, marker):
    """Make `directory`'s tokenizer an ErnieTinyTokenizer whose word dictionary runs the payload."""
    config = json.loads((directory / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "ErnieTinyTokenizer"
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    (directory / "spm_cased_simp_sampled.model").write_bytes(b"\n\x00")
    _evil(directory / "dict.wordseg.pickle", marker)


@pytest.fixture(scope="module")
def text_export(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("safe_text")
    module = hub.Module(directory=tiny_bert_dir)
    reader = hub.reader.ClassifyReader(dataset=sentiment_dataset(root, 8), vocab_path=module.get_vocab_path(),
                                       max_seq_len=16)
    task = hub.TextClassifierTask(data_reader=reader, feature=module, num_classes=2, config=hub.RunConfig())
    return task.export(str(root / "export"))


def _pickles_in(directory):
    found = []
    for base, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(base, name), "rb") as f:
                if f.read(1) == b"\x80":
                    found.append(name)
    return found


def test_an_export_holds_no_pickle_and_refuses_a_crafted_tokenizer(text_export, tmp_path):
    assert _pickles_in(text_export) == []
    assert hub.Predictor(text_export).predict(["the film was good"])[0]["label"] in ("neg", "pos")
    marker = tmp_path / "pwned"
    crafted = tmp_path / "export"
    shutil.copytree(text_export, crafted)
    _as_ernie_tiny(crafted / "tokenizer", marker)
    _refused(lambda: hub.Predictor(str(crafted)), crafted / "tokenizer" / "dict.wordseg.pickle", marker)

    source = tmp_path / "in.txt"
    source.write_text("the film was good\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "hubtrain.cli", "predict", str(crafted), "--input", str(source)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and run.stdout == ""
    assert "refusing to load posix.system" in run.stderr and "dict.wordseg.pickle" in run.stderr
    assert not marker.exists()


def test_hubtrain_export_refuses_crafted_weights(tmp_path, tiny_bert_dir):
    marker = tmp_path / "pwned"
    evil = _evil(tmp_path / "evil.pdparams", marker, around={"w": np.ones(2, np.float32)})
    data = write_data(str(tmp_path / "ws"))
    command = [sys.executable, "-m", "hubtrain.cli", "export", evil, "--module", tiny_bert_dir,
               "--dataset", "BaseNLPDataset", "--max-seq-len", "16", "--output", str(tmp_path / "out")]
    for option in (f"base_path={data}", "train_file=train.tsv", "label_list=['0', '1']"):
        command += ["--dataset-option", option]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0, run.stdout
    assert f"{evil}: {REFUSAL}" in " ".join(run.stderr.split())
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_what_ranks_send_each_other_is_a_record_and_a_pickle_is_refused():
    """The values ranks exchange (metric statistics, losses, names, random states) travel as
    record bytes: the same values come back, and a pickle sent in their place is refused unread."""
    from hubtrain.serialization.records import RecordError, record_bytes, record_from_bytes

    value = ([np.arange(4, dtype=np.float32), np.int64(7)], (), "ckpt_1", {"loss": float("nan"), "n": 3})
    back = record_from_bytes(record_bytes(value, "a value"), "what rank 1 sent")
    assert np.array_equal(back[0][0], value[0][0]) and back[0][0].dtype == np.float32 and back[0][1] == 7
    assert back[1:3] == ((), "ckpt_1") and back[3]["n"] == 3 and np.isnan(back[3]["loss"])

    class Runs:
        def __reduce__(self):
            return (os.system, ("echo ran > /dev/null",))

    for crafted in (pickle.dumps(Runs()), pickle.dumps(value), b""):
        with pytest.raises(RecordError, match="what rank 1 sent is not a record"):
            record_from_bytes(crafted, "what rank 1 sent")
