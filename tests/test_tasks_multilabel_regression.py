"""MultiLabelClassifierTask on BBC News with a second, "mentions the UK" label (a tiny BERT over
the real MiniLM vocabulary) and RegressionTask on scikit-learn's diabetes (a small MLP): each
beats a trivial baseline; targets that are not 0/1 or not finite are refused naming the example."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest
from sklearn.datasets import load_diabetes
from sklearn.metrics import roc_auc_score

import hubtrain as hub
from hubtrain.data.example import LabelError
from tiny import Vectors
from tiny_tasks import minilm_vocab, write_bert


def _config(tmp_path, epochs, lr=5e-3, batch_size=32):
    return hub.RunConfig(num_epoch=epochs, batch_size=batch_size, log_interval=1000,
                         checkpoint_dir=str(tmp_path / "ckpt"),
                         strategy=hub.DefaultFinetuneStrategy(learning_rate=lr, regularization_coeff=0.0))


# ---------------------------------------------------------------- multi-label
@pytest.mark.slow
def test_multilabel_task_learns_bbc_topics_and_uk(tmp_path):
    dataset = hub.dataset.BBCNewsMultiLabel(split=(0.4, 0.15, 0.45))
    module = hub.Module(directory=write_bert(str(tmp_path / "bert"), vocab_file=minilm_vocab(), hidden=64))
    reader = hub.reader.MultiLabelClassifyReader(dataset=dataset, vocab_path=module.get_vocab_path(),
                                                 max_seq_len=128)
    inputs, outputs, program = module.context(trainable=True, max_seq_len=128)
    task = hub.MultiLabelClassifierTask(outputs["sequence_output"], num_classes=dataset.num_labels,
                                        data_reader=reader, metrics_choices=["auc", "f1"],
                                        config=_config(tmp_path, epochs=3))
    assert task.metric_variable_names() == ["loss", "auc", "micro_f1", "macro_f1"]
    task.finetune()
    task.eval("dev")
    result = task.last_result("dev")
    # constant scores (e.g. each label's training frequency) have AUC 0.5 and predict no label
    assert result["auc"] > 0.85 and result["micro_f1"] > 0.6 and result["macro_f1"] > 0.5

    probs = np.concatenate([rs.run_results[0] for rs in
                            task.predict(data=[["Chancellor Gordon Brown said the UK economy grew fast"],
                                               ["The film won three Oscars at the Hollywood ceremony"]])])
    assert probs.shape == (2, dataset.num_labels) and ((probs >= 0) & (probs <= 1)).all()
    labels = dataset.get_labels()
    assert probs[1].argmax() == labels.index("entertainment")
    # the task's AUC is scikit-learn's mean over labels on the same predictions
    dev = reader.get_dataset("dev")
    logits = np.concatenate(task.predict(dev, batch_size=64)[0])
    targets = np.stack([dev[i][4] for i in range(len(dev))])
    assert result["auc"] == pytest.approx(np.mean([roc_auc_score(targets[:, j], logits[:, j])
                                                   for j in range(targets.shape[1])]), abs=1e-6)


def test_multilabel_targets_must_be_flags(tmp_path):
    rng = np.random.RandomState(0)
    x, y = rng.rand(40, 8), (rng.rand(40, 3) > 0.5).astype("float32")
    y[13, 1] = 2.0
    paddle.seed(0)
    task = hub.MultiLabelClassifierTask(nn.Sequential(nn.Linear(8, 16), nn.ReLU()), num_classes=3, feature_dim=16,
                                        config=_config(tmp_path, epochs=1, batch_size=8))
    with pytest.raises(LabelError, match="must be 0 or 1") as err:
        task.finetune(Vectors(x, y))
    assert "train example 13" in str(err.value) and "0/1" in str(err.value)


# ---------------------------------------------------------------- regression
def _diabetes():
    x, y = load_diabetes(return_X_y=True)
    x = (x - x[:300].mean(0)) / x[:300].std(0)
    y = (y - y[:300].mean()) / y[:300].std()
    return Vectors(x[:300], y[:300, None]), Vectors(x[300:], y[300:, None]), y


def test_regression_task_fits_diabetes(tmp_path):
    train, test, y = _diabetes()
    paddle.seed(0)
    task = hub.RegressionTask(nn.Sequential(nn.Linear(10, 32), nn.ReLU()), feature_dim=32, dropout=0.0,
                              metrics_choices=["pearson", "spearman", "mse"],
                              config=_config(tmp_path, epochs=30, lr=1e-2))
    task.finetune(train)
    task.eval("test", dataset=test)
    result = task.last_result("test")
    baseline = float(np.mean((y[300:] - y[:300].mean()) ** 2))  # predicting the training mean
    assert result["mse"] < 0.7 * baseline
    assert result["pearson"] > 0.6 and result["spearman"] > 0.6
    assert result["loss"] == pytest.approx(result["mse"], rel=1e-5)
    pred = task.variable("pred")
    assert pred.shape[1] == 1 and task.variable("pearson") == pytest.approx(result["pearson"])


def test_nan_regression_target_names_the_example(tmp_path):
    train, _, _ = _diabetes()
    train.y[37, 0] = np.nan
    task = hub.RegressionTask(nn.Sequential(nn.Linear(10, 8)), feature_dim=8, config=_config(tmp_path, epochs=1))
    with pytest.raises(LabelError, match="not a finite number") as err:
        task.finetune(train)
    assert "train example 37" in str(err.value)


def test_regression_metrics_are_checked(tmp_path):
    with pytest.raises(ValueError, match="'acc'"):
        hub.RegressionTask(nn.Sequential(nn.Linear(10, 8)), feature_dim=8, metrics_choices=["acc"])
