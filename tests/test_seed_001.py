"""Seed 001's samples (Task, create_*_task helpers, introspection) as written, with local module
directories in place of downloads."""
import shutil

import pytest

import hubtrain as hub


@pytest.fixture
def local_modules(hub_home, tmp_path):
    """`resnet_v2_50_imagenet` and `ernie` where the zoo looks for them (random weights: the
    samples build tasks, they do not train)."""
    from tiny_text import write_tiny_family

    hub.Module(name="resnet50", pretrained=False).save(str(hub_home / "modules" / "resnet_v2_50_imagenet"))
    shutil.copytree(write_tiny_family(str(tmp_path / "ernie"), "ernie"), hub_home / "modules" / "ernie")
    return hub_home


def test_task_and_create_img_cls_task(local_modules):
    resnet = hub.Module(name="resnet_v2_50_imagenet")
    module = hub.Module(name="resnet_v2_50_imagenet")
    inputs, outputs, program = module.context(trainable=True)
    feature_map = outputs['feature_map']
    cls_task = hub.create_img_cls_task(
        feature=feature_map, num_classes=2, hidden_units=[20, 10])
    assert resnet.kind == "vision" and cls_task.feature_dim == 2048
    cls_task.variable("loss")
    main_program = cls_task.main_program()
    startup_program = cls_task.startup_program()
    inference_program = cls_task.inference_program()
    metric_variable_names = cls_task.metric_variable_names()
    assert metric_variable_names == ["loss", "acc"]
    assert len(main_program.global_block().ops) > len(inference_program.global_block().ops) > 0
    assert startup_program is not None


def test_create_seq_label_task_and_create_text_cls_task(local_modules):
    class dataset:  # the sample's dataset: only its label count is used
        num_labels = 7

    seq_len = None  # a static-graph Variable in the sample; the reader feeds sequence lengths here
    max_seq_len = 20
    module = hub.Module(name="ernie")
    inputs, outputs, program = module.context(
        trainable=True, max_seq_len=max_seq_len)
    sequence_output = outputs["sequence_output"]
    seq_label_task = hub.create_seq_label_task(
        feature=sequence_output,
        seq_len=seq_len,
        num_classes=dataset.num_labels)
    assert isinstance(seq_label_task, hub.SequenceLabelTask)

    pooled_output = outputs["pooled_output"]
    cls_task = hub.create_text_cls_task(
        feature=pooled_output, num_classes=2, hidden_units=[20, 10])
    assert isinstance(cls_task, hub.TextClassifierTask) and cls_task.hidden_units == [20, 10]
