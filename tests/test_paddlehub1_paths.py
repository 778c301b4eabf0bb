"""PaddleHub 1.x's import paths, top-level names and static-graph RunConfig options, as 1.x
scripts use them with only `paddlehub` changed to `hubtrain`."""
import importlib
import logging
import subprocess
import sys

import pytest

import hubtrain as hub
from hubtrain.compat.paddlehub_paths import PATHS


@pytest.mark.parametrize("path", sorted(PATHS))
def test_each_1x_path_imports_as_the_module_that_holds_its_names(path):
    module = importlib.import_module(path)
    assert module is importlib.import_module(PATHS[path])
    parent, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(parent), name) is module


def test_names_1x_scripts_import_from_those_paths():
    from hubtrain.common.logger import logger
    from hubtrain.dataset.base_cv_dataset import BaseCVDataset
    from hubtrain.dataset.base_nlp_dataset import BaseNLPDataset
    from hubtrain.finetune.config import RunConfig
    from hubtrain.finetune.strategy import AdamWeightDecayStrategy, DefaultFinetuneStrategy
    from hubtrain.finetune.task import BaseTask, TextClassifierTask
    from hubtrain.reader.cv_reader import ImageClassificationReader
    from hubtrain.reader.nlp_reader import ClassifyReader, SequenceLabelReader

    assert logger is logging.getLogger("hubtrain") and hub.logger is logger and hub.common.logger.logger is logger
    assert (BaseCVDataset, BaseNLPDataset) == (hub.dataset.BaseCVDataset, hub.dataset.BaseNLPDataset)
    assert RunConfig is hub.RunConfig and BaseTask is hub.BaseTask and TextClassifierTask is hub.TextClassifierTask
    assert hub.finetune.strategy.DefaultFinetuneStrategy is DefaultFinetuneStrategy is hub.DefaultFinetuneStrategy
    assert AdamWeightDecayStrategy is hub.AdamWeightDecayStrategy
    assert (ClassifyReader, SequenceLabelReader, ImageClassificationReader) == \
        (hub.reader.ClassifyReader, hub.reader.SequenceLabelReader, hub.reader.ImageClassificationReader)


def test_1x_names_for_the_base_task_and_the_default_strategy(tmp_path, digits):
    from tiny import Digits, mlp_backbone

    assert hub.BasicTask is hub.Task is hub.BaseTask is hub.finetune.task.Task
    strategy = hub.DefaultStrategy(learning_rate=0.3, optimizer_name="sgd")
    assert isinstance(strategy, hub.FinetuneStrategy)
    config = hub.RunConfig(num_epoch=3, batch_size=20, seed=0, eval_interval=None, checkpoint_dir=str(tmp_path / "c"),
                           strategy=strategy)
    task = hub.create_img_cls_task(feature=mlp_backbone(), num_classes=10, config=config)
    assert isinstance(task, hub.finetune.task.Task)
    train, dev = Digits(digits[0].x[:400], digits[0].y[:400]), Digits(digits[1].x, digits[1].y)
    task.finetune(train)
    task.eval("dev", dev)
    assert task.last_result("dev")["acc"] > 0.5                  # 10 classes: chance is 0.1
    assert isinstance(task.optimizer, __import__("paddle").optimizer.SGD)


@pytest.mark.parametrize("name, advice", [("DetectionTask", "PaddleDetection"),
                                          ("PointwiseTextMatchingTask", "text_b"),
                                          ("MODULE_HOME", "HUBTRAIN_HOME"),
                                          ("connect_program", "no program to connect")])
def test_1x_names_hubtrain_does_not_provide_say_what_to_use(name, advice):
    with pytest.raises(AttributeError, match=advice) as raised:
        getattr(hub, name)
    assert f"hub.{name}" in str(raised.value) and "PaddleHub 1.x" in str(raised.value)
    assert not hasattr(hub, name)


def test_an_unknown_name_suggests_the_nearest_public_ones():
    with pytest.raises(AttributeError, match=r"Did you mean hub.TextClassifierTask"):
        hub.TextClasifierTask


def test_static_graph_options_are_kept_with_one_warning(hub_warnings):
    config = hub.RunConfig(use_pyreader=True, enable_memory_optim=True, use_data_parallel=True, num_epoch=2)
    warnings = [r for r in hub_warnings.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert all(name in text for name in ("use_pyreader", "enable_memory_optim", "use_data_parallel", "dygraph"))
    assert (config.use_pyreader, config.enable_memory_optim, config.use_data_parallel, config.num_epoch) == \
        (True, True, True, 2)
    assert "use_pyreader" not in config.to_dict()
    hub_warnings.clear()
    # False asks for what dygraph does anyway: no warning (1.x's predict demos pass use_data_parallel=False)
    config = hub.RunConfig(num_epoch=2, use_pyreader=False, use_data_parallel=False)
    assert not hub_warnings.records and config.use_pyreader is False


def test_a_misspelt_static_option_is_still_an_error_that_names_it():
    with pytest.raises(ValueError, match=r"unknown option 'use_pyreadr'. Did you mean 'use_pyreader'"):
        hub.RunConfig(use_pyreadr=True)


def test_load_vocab_reads_both_1x_vocab_forms(tmp_path):
    from hubtrain.reader.tokenization import load_vocab

    plain = tmp_path / "vocab.txt"
    plain.write_text("[PAD]\n[UNK]\n你\n好\n", encoding="utf-8")
    assert load_vocab(str(plain)) == {"[PAD]": 0, "[UNK]": 1, "你": 2, "好": 3}
    numbered = tmp_path / "word_dict.txt"
    numbered.write_text("<unk>\t7\n好\t3\n", encoding="utf-8")
    assert load_vocab(str(numbered)) == {"<unk>": 7, "好": 3}
    numbered.write_text("<unk>\tseven\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"word_dict.txt:1: the id after the tab"):
        load_vocab(str(numbered))


def test_a_scripts_own_log_lines_through_the_1x_logger_are_tagged_with_their_level():
    code = ("import hubtrain as hub\n"
            "from hubtrain.common.logger import logger\n"
            "hub.RunConfig(use_pyreader=True)\n"     # hubtrain's first line sets up the output
            "logger.setLevel('INFO')\n"
            "logger.info('loaded the model from %s', 'ckpt')\n"
            "hub.logger.error('no such file')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("[")]
    assert lines[-2].endswith("[    INFO] - loaded the model from ckpt")
    assert lines[-1].endswith("[   ERROR] - no such file")


@pytest.mark.parametrize("namespace, name, advice", [("dataset", "Coco10", "object detection"),
                                                     ("dataset", "DuEL", "pairwise ranking"),
                                                     ("dataset", "HubDataset", "BaseNLPDataset"),
                                                     ("reader", "ObjectDetectionReader", "object detection")])
def test_1x_dataset_and_reader_names_not_provided_say_why(namespace, name, advice):
    with pytest.raises(AttributeError, match=advice) as raised:
        getattr(getattr(hub, namespace), name)
    assert f"hub.{namespace}.{name}" in str(raised.value)


def test_a_misspelt_dataset_name_suggests_the_nearest():
    with pytest.raises(AttributeError, match=r"Did you mean hub.dataset.ChnSentiCorp"):
        hub.dataset.ChnSentiCorpp
    assert hub.dataset.DogCat is hub.dataset.DogCatDataset
