"""Classifier tasks compute acc, f1, precision, recall and matthews, as scikit-learn does on the
same predictions: class 1 of two classes, the macro average over the classes present otherwise."""
import numpy as np
import paddle
import pytest
from sklearn import metrics as skm

import hubtrain as hub
from tiny import Digits, mlp_backbone

ALL = ["f1", "acc", "precision", "recall", "matthews"]


def sklearn_scores(y, pred, binary):
    average = "binary" if binary else "macro"
    return {"acc": skm.accuracy_score(y, pred),
            "f1": skm.f1_score(y, pred, average=average, zero_division=0),
            "precision": skm.precision_score(y, pred, average=average, zero_division=0),
            "recall": skm.recall_score(y, pred, average=average, zero_division=0),
            "matthews": skm.matthews_corrcoef(y, pred)}


def predicted(task, data):
    logits = task.predict(Digits(data.x, data.y), batch_size=64, stack_outputs=True, verbose=0)[0]
    return np.argmax(logits, axis=-1)


def assert_scores(result, y, pred, binary):
    want = sklearn_scores(y, pred, binary)
    assert set(ALL) <= set(result)
    for name, value in want.items():
        assert result[name] == pytest.approx(value, abs=1e-12), name


def binary(split):
    return Digits(split.x, (split.y >= 5).astype("int64"))


@pytest.mark.parametrize("two_classes", [False, True])
def test_evaluate_reports_each_chosen_metric_as_scikit_learn_computes_it(digits, two_classes, tmp_path):
    train, dev, _ = (binary(s) for s in digits) if two_classes else digits
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=2 if two_classes else 10,
                                   metrics_choices=ALL, config=hub.RunConfig(checkpoint_dir=str(tmp_path), seed=0))
    task.prepare(paddle.optimizer.Adam(learning_rate=1e-2, parameters=task.parameters()))
    # untrained: some classes are never predicted, so the averages skip or zero them as scikit-learn does
    result = task.evaluate(dev, batch_size=64, verbose=0)
    assert list(result) == ["loss"] + ALL
    assert_scores(result, dev.y, predicted(task, dev), two_classes)
    task.fit(train, batch_size=32, epochs=1, verbose=0)
    result = task.evaluate(dev, batch_size=64, verbose=0)
    pred = predicted(task, dev)
    assert 0.5 < result["acc"] < 1.0 and len(set(pred)) == (2 if two_classes else 10)
    assert_scores(result, dev.y, pred, two_classes)


def test_finetune_and_eval_results_hold_the_chosen_metrics(digits, tmp_path):
    train, dev, test = digits
    config = hub.RunConfig(num_epoch=1, batch_size=32, eval_interval=20, checkpoint_dir=str(tmp_path), seed=0)
    task = hub.TextClassifierTask(feature=mlp_backbone(), num_classes=10, metrics_choices=["f1", "matthews"],
                                  config=config)
    task.finetune_and_eval(train, dev, test)
    assert task.train_state.best_metric == "f1"  # the first metric picks the best model
    result = task.last_result("test")
    assert set(result) == {"loss", "f1", "matthews"}
    pred = predicted(task, test)  # the best model's weights, which the test split was scored with
    assert result["f1"] == pytest.approx(skm.f1_score(test.y, pred, average="macro"), abs=1e-12)
    assert result["matthews"] == pytest.approx(skm.matthews_corrcoef(test.y, pred), abs=1e-12)


def test_one_metric_may_be_named_by_a_string(digits):
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, metrics_choices="recall")
    assert task.metric_variable_names() == ["loss", "recall"]


@pytest.mark.parametrize("task_class", [hub.ImageClassifierTask, hub.TextClassifierTask])
def test_a_metric_a_classifier_cannot_compute_is_refused_listing_those_it_can(task_class):
    with pytest.raises(ValueError) as error:
        task_class(feature=mlp_backbone(), num_classes=10, metrics_choices=["acc", "auc"])
    assert str(error.value) == (
        f"metrics_choices names 'auc', which {task_class.__name__} (a single-label classifier) cannot compute: "
        f"choose from ['acc', 'f1', 'precision', 'recall', 'matthews'].")
