"""Seed 004's transfer-learning sample, as written, on a local module directory and a user TSV
dataset: module -> dataset -> reader -> strategy -> RunConfig -> TextClassifierTask ->
finetune_and_eval -> predict(data=...)."""
import os

import numpy as np
import pytest

import hubtrain as hub
from hubtrain.dataset.base_nlp_dataset import BaseNLPDataset
from tiny_text import sentiment_rows


def write_tsv(path, rows, header=True, with_label=True):
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write("text_a\tlabel\n" if with_label else "text_a\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n" if with_label else f"{text}\n")


@pytest.fixture
def dataset_dir(tmp_path):
    rows = sentiment_rows(260, seed=1)
    write_tsv(tmp_path / "train.tsv", rows[:160])
    write_tsv(tmp_path / "dev.tsv", rows[160:210])
    write_tsv(tmp_path / "test.tsv", rows[210:])
    write_tsv(tmp_path / "predict.tsv", rows[:4], with_label=False)
    return str(tmp_path)


def test_seed_004_sample_runs_as_written(tiny_bert_dir, dataset_dir, tmp_path):
    module = hub.Module(directory=tiny_bert_dir)

    class DemoDataset(BaseNLPDataset):
        def __init__(self):
            self.dataset_dir = dataset_dir
            super(DemoDataset, self).__init__(
                base_path=self.dataset_dir,
                train_file="train.tsv",
                dev_file="dev.tsv",
                test_file="test.tsv",
                predict_file="predict.tsv",
                train_file_with_header=True,
                dev_file_with_header=True,
                test_file_with_header=True,
                predict_file_with_header=True,
                label_list=["0", "1"])

    dataset = DemoDataset()
    reader = hub.reader.ClassifyReader(
        dataset=dataset,
        vocab_path=module.get_vocab_path(),
        max_seq_len=32,
        sp_model_path=module.get_spm_path(),
        word_dict_path=module.get_word_dict_path())
    strategy = hub.AdamWeightDecayStrategy(
        learning_rate=1e-3,
        weight_decay=0.01,
        warmup_proportion=0.1,
        lr_scheduler="linear_decay",
    )
    config = hub.RunConfig(use_cuda=False, num_epoch=5, batch_size=16, strategy=strategy,
                           checkpoint_dir=str(tmp_path / "ckpt"))
    inputs, outputs, program = module.context(trainable=True, max_seq_len=32)
    pooled_output = outputs["pooled_output"]
    feed_list = [
        inputs["input_ids"].name,
        inputs["position_ids"].name,
        inputs["segment_ids"].name,
        inputs["input_mask"].name,
    ]
    cls_task = hub.TextClassifierTask(
        data_reader=reader,
        feature=pooled_output,
        feed_list=feed_list,
        num_classes=dataset.num_labels,
        metrics_choices=["acc"],
        config=config)
    cls_task.finetune_and_eval()

    assert os.path.isdir(tmp_path / "ckpt" / "best_model")
    assert cls_task.last_result("test")["acc"] >= 0.9  # the words decide the label: learnable

    data = [["the movie was great good"], ["the film was awful bad"], ["the film was fine good"]]
    index = 0
    run_states = cls_task.predict(data=data)
    results = [run_state.run_results for run_state in run_states]
    predicted = []
    for batch_result in results:
        batch_result = np.argmax(batch_result[0], axis=1)
        for result in batch_result:
            predicted.append(int(result))
            index += 1
    assert index == len(data)
    assert predicted == [1, 0, 1]


def test_datasets_and_readers_are_hub_names():
    assert hub.dataset.BaseNLPDataset is BaseNLPDataset
    for name in ("ChnSentiCorp", "LCQMC", "MSRA_NER", "GLUE", "BBCNews", "BaseCVDataset", "FashionMNIST"):
        assert hasattr(hub.dataset, name), name
    for name in ("ClassifyReader", "SequenceLabelReader", "MultiLabelClassifyReader", "RegressionReader",
                 "ReadingComprehensionReader", "ImageClassificationReader"):
        assert hasattr(hub.reader, name), name
