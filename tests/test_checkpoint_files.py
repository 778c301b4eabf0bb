"""Checkpoint files hold data only (safetensors and JSON), the previous release's pickled
checkpoints are still read without running anything from them, and a damaged checkpoint or
best model is refused before the first step, with nothing on disk changed."""
import hashlib
import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest
import safetensors.numpy

import hubtrain as hub
from hubtrain.engine.checkpoint import CheckpointFormatError, restore_rng
from hubtrain.serialization.records import RecordError, read_record, read_weights, write_record, write_weights
from tiny import Digits, mlp_backbone

# format 1: the files of the previous release, by their format-2 counterparts
OLD_NAMES = {"model.safetensors": "model.pdparams", "optimizer.safetensors": "optimizer.pdopt",
             "scaler.safetensors": "scaler.pdscaler", "callbacks.safetensors": "callbacks.pdstate",
             "rng.json": "rng.pkl", "trainer_state.json": "trainer_state.json"}


class Payload:
    """Unpickling this calls os.system: what a crafted checkpoint file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _task(ckpt, **config):
    config = dict(dict(batch_size=16, save_ckpt_interval=2, seed=3), **config)
    return hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10,
                                   config=hub.RunConfig(checkpoint_dir=str(ckpt), **config))


def _train(digits, n=64):
    return Digits(digits[0].x[:n], digits[0].y[:n])


def _dev(digits):
    return Digits(digits[1].x[:48], digits[1].y[:48])


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _digest(directory):
    """Every file under `directory` (the lock file aside) with its bytes' hash and its mtime."""
    found = {}
    for base, _, names in os.walk(directory):
        for name in names:
            if name != ".lock":
                path = os.path.join(base, name)
                found[path] = (_sha(path), os.stat(path).st_mtime_ns)
    return found


def _relist(path, fmt=None):
    """Rewrite the manifest of checkpoint `path` to list the files now in it (as whoever wrote
    the files would), in format `fmt` if given."""
    with open(os.path.join(path, "manifest.json")) as f:
        manifest = json.load(f)
    names = sorted(n for n in os.listdir(path) if n != "manifest.json")
    manifest["files"] = {n: {"bytes": os.path.getsize(os.path.join(path, n)), "sha256": _sha(os.path.join(path, n))}
                         for n in names}
    if fmt is not None:
        manifest["format"] = fmt
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


def _as_format1(path):
    """Turn a checkpoint into what the previous release wrote: paddle.save pickles, a pickled
    rng.pkl of paddle's, numpy's and Python's generator states, and a format-1 manifest."""
    for new, old in OLD_NAMES.items():
        source = os.path.join(path, new)
        if not os.path.exists(source) or new == old:
            continue
        if new == "rng.json":
            with open(source) as f:
                restore_rng(json.load(f))
            with open(os.path.join(path, old), "wb") as f:
                pickle.dump({"paddle": paddle.get_rng_state(), "numpy": np.random.get_state(),
                             "python": random.getstate()}, f, protocol=4)
        else:
            paddle.save(read_weights(source) if new == "model.safetensors" else read_record(source),
                        os.path.join(path, old))
        os.remove(source)
    _relist(path, fmt=1)


class _Steps(paddle.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, step, logs=None):
        self.count += 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    """A straight run of 4 steps with checkpoints at steps 2 and 4 (format 2)."""
    root = tmp_path_factory.mktemp("straight")
    task = _task(root / "ck")
    task.finetune(_train(digits))
    return root / "ck", {k: v.numpy() for k, v in task.network.state_dict().items()}


def _resume_from_step_2(trained, tmp_path):
    ck = tmp_path / "ck"
    os.makedirs(ck)
    shutil.copytree(trained[0] / "step_2", ck / "step_2")
    return ck


# ---------------------------------------------------------------- format 2
def test_records_and_weights_keep_every_dtype_exactly(tmp_path):
    bf16 = paddle.to_tensor([1.5, -2.0, 3.140625]).astype("bfloat16")
    value = {"f32": paddle.to_tensor([[0.1, -0.2]], dtype="float32"), "f16": np.array([0.1, 65504], np.float16),
             "bf16": bf16, "f8": paddle.to_tensor([0.5, -1.0]).astype("float8_e4m3fn"),
             "i64": np.arange(5, dtype=np.int64), "bool": paddle.to_tensor([True, False]),
             "c128": np.array([1 + 2j]), "scalar": np.float64(0.1), "zero_d": paddle.to_tensor(2.5),
             "plain": {"best": float("-inf"), "wait": 2, "stopped_at": None, "rates": (0.1, 0.2), "name": "acc",
                       "nested": [{"flag": True}, []]}}
    write_record(str(tmp_path / "r.safetensors"), value)
    back = read_record(str(tmp_path / "r.safetensors"))
    for key in ("f32", "bf16", "f8", "bool", "zero_d"):
        assert isinstance(back[key], paddle.Tensor) and back[key].dtype == value[key].dtype, key
        assert list(back[key].shape) == list(value[key].shape), key
        assert np.array_equal(back[key].numpy(), value[key].numpy()), key  # raw bits for bfloat16 and float8
    for key in ("f16", "i64", "c128"):
        assert back[key].dtype == value[key].dtype and np.array_equal(back[key], value[key]), key
    assert type(back["scalar"]) is np.float64 and back["scalar"] == value["scalar"]
    assert back["plain"] == value["plain"] and isinstance(back["plain"]["rates"], tuple)

    weights = {"fc.weight": paddle.to_tensor([[1.0, 2.0]]), "fc.bias": bf16}
    write_weights(str(tmp_path / "w.safetensors"), weights)
    loaded = read_weights(str(tmp_path / "w.safetensors"))
    assert {k: v.dtype for k, v in loaded.items()} == {k: v.dtype for k, v in weights.items()}
    assert np.array_equal(loaded["fc.bias"].numpy(), bf16.numpy())
    plain = safetensors.numpy.load_file(str(tmp_path / "w.safetensors"))  # any safetensors reader
    assert np.array_equal(plain["fc.weight"], weights["fc.weight"].numpy())


def test_a_record_refuses_what_would_need_code_to_rebuild(tmp_path):
    with pytest.raises(RecordError, match=r"r\.safetensors cannot be saved: \['cb'\]\['fn'\] is a builtins\."):
        write_record(str(tmp_path / "r.safetensors"), {"cb": {"fn": print}})
    with pytest.raises(RecordError, match="has the key 3 of type int"):
        write_record(str(tmp_path / "r.safetensors"), {3: "x"})
    assert not (tmp_path / "r.safetensors").exists()


@pytest.mark.parametrize("node, words", [
    ({"array": "0", "of": "paddle", "dtype": "system", "shape": [2]}, "has an unknown kind or dtype (paddle, system)"),
    ({"array": "9", "of": "numpy", "dtype": "float32", "shape": [2]}, "names an array '9' the file does not hold"),
    ({"array": "0", "of": "numpy", "dtype": "float64", "shape": [2]}, "is float32 of shape [2], its record says"),
    ({"call": ["os.system", "touch x"]}, "holds an entry hubtrain does not write"),
])
def test_a_forged_record_is_refused_not_interpreted(tmp_path, node, words):
    path = str(tmp_path / "forged.safetensors")
    safetensors.numpy.save_file({"0": np.zeros(2, np.float32)}, path,
                                metadata={"format": "hubtrain.record.1", "record": json.dumps({"dict": {"x": node}})})
    with pytest.raises(RecordError, match=re.escape(words)):
        read_record(path)


def test_a_checkpoint_holds_no_pickle(trained):
    step = trained[0] / "step_4"
    names = sorted(os.listdir(step))
    assert {"manifest.json", "model.safetensors", "optimizer.safetensors", "rng.json", "trainer_state.json"} <= \
        set(names) and all(n.endswith((".json", ".safetensors")) for n in names)
    for name in names:
        assert (step / name).read_bytes()[:1] != b"\x80", name  # no pickle protocol header
    manifest = json.loads((step / "manifest.json").read_text())
    assert manifest["format"] == 2
    weights = read_weights(str(step / "model.safetensors"))
    assert {k: v.numpy().tolist() for k, v in weights.items()} == {k: v.tolist() for k, v in trained[1].items()}


def test_resumed_run_ends_as_the_straight_one(trained, tmp_path, digits):
    ck = _resume_from_step_2(trained, tmp_path)
    task = _task(ck)
    task.finetune(_train(digits))
    assert task.train_state.global_step == 4
    for name, value in task.network.state_dict().items():
        assert np.array_equal(value.numpy(), trained[1][name]), name


def test_a_callback_state_that_is_not_plain_data_is_refused_before_the_first_step(tmp_path, digits):
    class Opaque(paddle.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, step, logs=None):
            Opaque.steps += 1

        def state_dict(self):
            return {"schedule": lambda step: step}

        def set_state_dict(self, state):
            pass

    with pytest.raises(TypeError, match=r"the state_dict\(\) of callback paddle_callbacks cannot be saved: "
                                        r"\['Opaque\.0'\]\['schedule'\] is a builtins\.function\. A record holds only "
                                        r"dicts with str keys"):
        _task(tmp_path / "ck").finetune(_train(digits), callbacks=[Opaque()])
    assert Opaque.steps == 0 and not [n for n in os.listdir(tmp_path / "ck") if n != ".lock"]


# ---------------------------------------------------------------- format 1
def test_a_format1_checkpoint_still_resumes_bit_identical(trained, tmp_path, digits):
    ck = _resume_from_step_2(trained, tmp_path)
    _as_format1(ck / "step_2")
    assert {"manifest.json", "model.pdparams", "optimizer.pdopt", "rng.pkl", "trainer_state.json"} <= \
        set(os.listdir(ck / "step_2"))
    assert not [n for n in os.listdir(ck / "step_2") if n.endswith(".safetensors") or n == "rng.json"]
    task, steps = _task(ck), _Steps()
    task.finetune(_train(digits), callbacks=[steps])
    assert steps.count == 2  # steps 3 and 4: resumed from step 2
    for name, value in task.network.state_dict().items():
        assert np.array_equal(value.numpy(), trained[1][name]), name
    assert json.loads((ck / "step_4" / "manifest.json").read_text())["format"] == 2


@pytest.mark.parametrize("name", ["model.pdparams", "optimizer.pdopt", "rng.pkl", "callbacks.pdstate"])
def test_a_format1_file_that_would_run_code_is_refused_on_resume(trained, tmp_path, digits, name):
    ck = _resume_from_step_2(trained, tmp_path)
    _as_format1(ck / "step_2")
    marker = tmp_path / "ran"
    with open(ck / "step_2" / name, "wb") as f:
        pickle.dump({"fc.weight": Payload(marker)}, f, protocol=4)
    _relist(ck / "step_2")  # whoever writes the file writes the manifest too
    before = _digest(ck)
    with pytest.raises(hub.CheckpointError) as info:
        _task(ck).finetune(_train(digits))
    message = str(info.value)
    assert message.startswith(f"checkpoint {ck / 'step_2'} is refused: {ck / 'step_2' / name}: refusing to "
                              f"load posix.system: ")
    assert message.endswith(f"move or delete {ck / 'step_2'} (or choose another checkpoint_dir) and run again.")
    assert not marker.exists()
    assert _digest(ck) == before


def _format1_best_model(ck, marker):
    """A best_model/ as the previous release wrote it, whose weights pickle runs `touch marker`."""
    best = ck / "best_model"
    os.makedirs(best)
    with open(best / "model.pdparams", "wb") as f:
        pickle.dump({"fc.weight": Payload(marker)}, f, protocol=4)
    (best / "manifest.json").write_text(json.dumps({"format": 1, "files": {}}))
    _relist(best)


def test_a_best_model_that_would_run_code_is_refused_before_the_first_step(tmp_path, digits):
    marker = tmp_path / "ran"
    _format1_best_model(tmp_path / "ck", marker)
    before = _digest(tmp_path / "ck")
    with pytest.raises(hub.CheckpointError, match=r"best_model/model\.pdparams: refusing to load posix\.system: "
                                                  r".*The run loads .*best_model when it ends: move or delete it"):
        _task(tmp_path / "ck").finetune_and_eval(_train(digits), _dev(digits))
    assert not marker.exists() and _digest(tmp_path / "ck") == before


def test_a_best_model_that_would_run_code_is_refused_when_reloaded_at_the_end(tmp_path, digits):
    """The best model is swapped for a crafted one after the last dev evaluation that saved it."""
    marker = tmp_path / "ran"

    class SwapBestModel(paddle.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            state = self.model.train_state
            if state.global_step == state.total_steps:
                shutil.rmtree(tmp_path / "ck" / "best_model")
                _format1_best_model(tmp_path / "ck", marker)

    # a learning rate too small to change a prediction: the last evaluation does not beat the first
    task = _task(tmp_path / "ck", eval_interval=2, strategy=hub.DefaultFinetuneStrategy(learning_rate=1e-12))
    test = Digits(digits[2].x[:32], digits[2].y[:32])
    with pytest.raises(hub.CheckpointError, match=r"best_model/model\.pdparams: refusing to load posix\.system"):
        task.finetune_and_eval(_train(digits), _dev(digits), test, callbacks=[SwapBestModel()])
    assert task.train_state.best_step == 2 and not marker.exists()


def test_hubtrain_eval_refuses_a_best_model_that_would_run_code(tmp_path, tiny_bert_dir):
    from pipeline_workspace import write_data

    marker = tmp_path / "ran"
    _format1_best_model(tmp_path / "ck", marker)
    data = write_data(str(tmp_path / "ws"))
    command = [sys.executable, "-m", "hubtrain", "eval", "--module", tiny_bert_dir, "--dataset", "BaseNLPDataset",
               "--max-seq-len", "32", "--batch-size", "16", "--checkpoint-dir", str(tmp_path / "ck"),
               "--device", "cpu"]
    for option in (f"base_path={data}", "train_file=train.tsv", "dev_file=dev.tsv", "test_file=test.tsv",
                   "label_list=['0', '1']"):
        command += ["--dataset-option", option]
    done = subprocess.run(command, cwd=str(tmp_path), capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert done.returncode != 0, done.stdout[-2000:]
    refusal = f"{tmp_path / 'ck' / 'best_model' / 'model.pdparams'}: refusing to load posix.system"
    assert refusal in done.stderr, done.stderr[-3000:]
    assert not marker.exists()


# ---------------------------------------------------------------- damage found before the first step
def test_a_truncated_best_model_is_refused_before_the_first_step(tmp_path, digits):
    _task(tmp_path / "ck", eval_interval=2).finetune_and_eval(_train(digits), _dev(digits))
    weights = tmp_path / "ck" / "best_model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    before, steps = _digest(tmp_path / "ck"), _Steps()
    with pytest.raises(hub.CheckpointError) as info:
        _task(tmp_path / "ck", num_epoch=2, eval_interval=2).finetune_and_eval(_train(digits), _dev(digits),
                                                                                callbacks=[steps])
    assert str(info.value).startswith(f"checkpoint file {weights} is truncated or altered (")
    assert str(info.value).endswith(f"The run loads {tmp_path / 'ck' / 'best_model'} when it ends: move or delete "
                                    f"it (or choose another checkpoint_dir) and run again.")
    assert steps.count == 0 and _digest(tmp_path / "ck") == before


def test_a_manifest_listing_no_files_is_refused_before_the_first_step(trained, tmp_path, digits):
    ck = _resume_from_step_2(trained, tmp_path)
    manifest = json.loads((ck / "step_2" / "manifest.json").read_text())
    manifest["files"] = {}
    (ck / "step_2" / "manifest.json").write_text(json.dumps(manifest))
    before, steps = _digest(ck), _Steps()
    with pytest.raises(hub.CheckpointError, match=r"no usable checkpoint in .*: checkpoint .*step_2: manifest\.json "
                                                  r"does not list model\.safetensors, which is read from it.* Move "
                                                  r"or delete the damaged step_\* directories"):
        _task(ck).finetune(_train(digits), callbacks=[steps])
    assert steps.count == 0 and _digest(ck) == before


def test_a_checkpoint_of_an_unknown_format_is_refused_not_passed_over(trained, tmp_path, digits):
    ck = _resume_from_step_2(trained, tmp_path)
    shutil.copytree(trained[0] / "step_4", ck / "step_4")
    _relist(ck / "step_4", fmt=3)
    before = _digest(ck)
    with pytest.raises(CheckpointFormatError, match=r"step_4 is in format 3, which this hubtrain \(formats 1, 2\) "
                                                    r"cannot read: resume it with the hubtrain that wrote it, or "
                                                    r"move or delete"):
        _task(ck).finetune(_train(digits))
    assert _digest(ck) == before
