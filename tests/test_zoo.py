"""hub.Module and the zoo: loading by directory and by name, context(), freezing, saving,
and the errors a user meets when files are missing."""
import json
import os
import shutil
import time

import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.zoo import Module, ModuleUnavailableError


def test_text_module_from_save_pretrained_directory(tiny_bert_dir):
    module = Module(directory=tiny_bert_dir)
    inputs, outputs, program = module.context(trainable=True, max_seq_len=32)
    assert [inputs[k].name for k in ("input_ids", "position_ids", "segment_ids", "input_mask")] == [
        "input_ids", "position_ids", "segment_ids", "input_mask"]
    assert set(outputs) == {"sequence_output", "pooled_output"}
    assert program is module.backbone
    assert module.get_vocab_path() == os.path.join(tiny_bert_dir, "vocab.txt")
    assert module.get_spm_path() is None and module.get_word_dict_path() is None
    ids = paddle.to_tensor([[2, 36, 31, 3, 0]], dtype="int64")
    mask = paddle.to_tensor([[1, 1, 1, 1, 0]], dtype="int64")
    seq, pooled = program(ids, paddle.arange(5).unsqueeze(0), paddle.zeros_like(ids), mask)
    assert seq.shape == [1, 5, 32] and pooled.shape == [1, 32]
    with pytest.raises(AttributeError, match="vision modules"):
        module.get_expected_image_width()


def test_padding_does_not_change_the_features(tiny_bert_dir):
    """The mask must hide padded positions: the same text, padded more, gives the same features."""
    module = Module(directory=tiny_bert_dir)
    module.backbone.eval()
    short = [paddle.to_tensor([[2, 36, 31, 3]], dtype="int64"), paddle.arange(4).unsqueeze(0)]
    long_ids = paddle.to_tensor([[2, 36, 31, 3, 0, 0, 0]], dtype="int64")
    _, a = module.backbone(short[0], short[1], paddle.zeros_like(short[0]), paddle.ones_like(short[0]))
    _, b = module.backbone(long_ids, paddle.arange(7).unsqueeze(0), paddle.zeros_like(long_ids),
                           paddle.to_tensor([[1, 1, 1, 1, 0, 0, 0]], dtype="int64"))
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_trainable_false_freezes_the_backbone(tiny_bert_dir):
    module = Module(directory=tiny_bert_dir)
    module.context(trainable=False)
    assert all(p.stop_gradient for p in module.backbone.parameters())
    assert not module.trainable
    module.context(trainable=True)
    assert module.trainable


def test_max_seq_len_beyond_the_positions_is_refused(tiny_bert_dir):
    with pytest.raises(ValueError, match=r"max_seq_len=100 is outside \[2, 64\]"):
        Module(directory=tiny_bert_dir).context(max_seq_len=100)


def test_unknown_context_option_is_named(tiny_bert_dir):
    with pytest.raises(TypeError, match="max_seq_length"):
        Module(directory=tiny_bert_dir).context(max_seq_length=64)


def test_directory_missing_a_file_names_it(tiny_bert_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bert_dir, broken)
    os.remove(broken / "model_state.pdparams")
    with pytest.raises(FileNotFoundError, match="model_state.pdparams"):
        Module(directory=str(broken))
    with pytest.raises(FileNotFoundError, match="not found"):
        Module(directory=str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not a module directory"):
        Module(directory=str(empty))


def test_corrupt_module_file_is_named(tiny_bert_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bert_dir, broken)
    (broken / "hubtrain_module.json").write_text("{not json")
    with pytest.raises(ValueError, match="hubtrain_module.json: not valid JSON"):
        Module(directory=str(broken))


def test_unknown_name_suggests_close_ones():
    with pytest.raises(ValueError, match="Did you mean 'ernie'"):
        Module(name="ernei")
    with pytest.raises(ValueError, match="exactly one of"):
        Module()


def test_hub_name_without_network_fails_fast_naming_the_directory(hub_home, monkeypatch):
    monkeypatch.setenv("HUBTRAIN_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModuleUnavailableError) as err:
        Module(name="ernie")
    assert time.perf_counter() - start < 5
    assert str(hub_home / "modules" / "ernie") in str(err.value)
    assert "save_pretrained" in str(err.value)


def test_name_loads_from_the_cache_directory(tiny_bert_dir, hub_home):
    shutil.copytree(tiny_bert_dir, hub_home / "modules" / "ernie")
    module = Module(name="ernie")
    assert module.kind == "text" and module.hidden_size == 32


def test_register_a_directory_of_ones_own(tiny_bert_dir):
    hub.zoo.register("my-tiny-bert", directory=tiny_bert_dir, replace=True)
    assert "my-tiny-bert" in hub.zoo.list("text")
    assert Module(name="my-tiny-bert").directory == os.path.abspath(tiny_bert_dir)
    with pytest.raises(ValueError, match="already has"):
        hub.zoo.register("my-tiny-bert", directory=tiny_bert_dir)


def test_vision_module_random_save_and_reload(tmp_path):
    module = Module(name="resnet18", pretrained=False)
    inputs, outputs, program = module.context()
    assert inputs["image"].shape == (-1, 3, 224, 224)
    assert module.get_expected_image_width() == 224
    np.testing.assert_allclose(module.get_pretrained_images_std(), [0.229, 0.224, 0.225], rtol=1e-6)
    image = paddle.rand([2, 3, 64, 64])
    program.eval()
    feature_map, pooled = program(image)
    assert feature_map.shape == [2, 512, 2, 2] and pooled.shape == [2, 512]
    saved = module.save(str(tmp_path / "resnet18_mine"))
    again = Module(directory=saved)
    again.backbone.eval()
    np.testing.assert_allclose(again.backbone(image)[0].numpy(), feature_map.numpy(), atol=1e-5)
    info = json.loads((tmp_path / "resnet18_mine" / "hubtrain_module.json").read_text())
    assert info["arch"] == "resnet18"
    from_weights = Module(name="resnet18", pretrained=saved + "/model.safetensors")
    from_weights.backbone.eval()
    np.testing.assert_allclose(from_weights.backbone(image)[1].numpy(), pooled.numpy(), atol=1e-5)


def test_vision_weights_of_another_architecture_are_refused(tmp_path):
    Module(name="resnet18", pretrained=False).save(str(tmp_path / "r18"))
    with pytest.raises(ValueError, match="is this file a mobilenet_v2"):
        Module(name="mobilenet_v2", pretrained=str(tmp_path / "r18" / "model.safetensors"))


def test_pretrained_vision_name_without_weights_says_where_to_put_them(hub_home):
    with pytest.raises(ModuleUnavailableError, match="pretrained=False"):
        Module(name="resnet50")


def test_module_output_as_task_feature(tiny_bert_dir):
    module = Module(directory=tiny_bert_dir)
    _, outputs, _ = module.context(trainable=True, max_seq_len=32)
    task = hub.TextClassifierTask(feature=outputs["pooled_output"], num_classes=3)
    assert task.feature_dim == 32
    assert [s.name for s in task.input_specs] == ["input_ids", "position_ids", "segment_ids", "input_mask"]
    vision = Module(name="mobilenet_v1", pretrained=False)
    image_task = hub.ImageClassifierTask(feature=vision.context()[1]["feature_map"], num_classes=4)
    assert image_task.feature_dim == 1024


def test_offline_zoo_names_build_their_directories_once(hub_home):
    """The real weights shipped in packages: built into HUBTRAIN_HOME on first use, then loaded."""
    vision = Module(name="mobilenet_v2", pretrained=True)
    assert os.path.exists(hub_home / "modules" / "mobilenet_v2" / "hubtrain_module.json")
    _, outputs, program = vision.context(trainable=False)
    program.eval()
    feature_map, pooled = program(paddle.rand([1, 3, 96, 96]))
    assert feature_map.shape == [1, 1280, 3, 3] and pooled.shape == [1, 1280]
    assert not vision.trainable
    again = Module(name="mobilenet_v2")  # from the cache now
    for (name, a), (_, b) in zip(vision.backbone.state_dict().items(), again.backbone.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)

    text = Module(name="all-minilm-l6-v2")
    assert text.hidden_size == 384 and text.backbone.pooling == "mean"
    assert text.get_vocab_path().startswith(str(hub_home))
    inputs, outputs, _ = text.context(max_seq_len=128)
    pooler = text.backbone.model.pooler.dense.weight
    assert pooler.stop_gradient, "an unused pooler must stay frozen"


@pytest.mark.parametrize("family,model_class", [("ernie", "ErnieModel"), ("roberta", "RobertaModel")])
def test_other_paddlenlp_families_load_from_directories(tmp_path, family, model_class):
    from tiny_text import write_tiny_family

    module = Module(directory=write_tiny_family(str(tmp_path / family), family))
    assert type(module.backbone.model).__name__ == model_class
    _, outputs, program = module.context(max_seq_len=32)
    ids = paddle.to_tensor([[2, 36, 31, 3, 0]], dtype="int64")
    seq, pooled = program(ids, paddle.arange(5).unsqueeze(0), paddle.zeros_like(ids),
                          paddle.to_tensor([[1, 1, 1, 1, 0]], dtype="int64"))
    assert seq.shape == [1, 5, 32] and pooled.shape == [1, 32]
    assert module.tokenizer("good movie")["input_ids"][0] == 2  # [CLS]


def test_module_as_feature_keeps_partial_freezing(tiny_bert_dir):
    module = Module(directory=tiny_bert_dir)
    module.context(trainable=True)
    embeddings = module.backbone.model.embeddings.word_embeddings.weight
    embeddings.stop_gradient = True  # a user freezing one layer by hand
    hub.TextClassifierTask(feature=module, num_classes=2)
    assert embeddings.stop_gradient and module.trainable


def test_text_name_without_pretrained_weights_reinitialises(tiny_bert_dir, hub_home):
    shutil.copytree(tiny_bert_dir, hub_home / "modules" / "ernie")
    trained = Module(name="ernie").backbone.model.encoder.layers[0].linear1.weight.numpy()
    fresh = Module(name="ernie", pretrained=False).backbone.model.encoder.layers[0].linear1.weight.numpy()
    assert fresh.shape == trained.shape and not np.allclose(fresh, trained)
