"""RunConfig(seed=0, to_static=True) for training, evaluation and prediction, and the fall-back to
dygraph when the converted forward fails."""

import numpy as np
import paddle
import paddle.nn as nn

import hubtrain as hub
from tiny import Digits, mlp_backbone


def _pair(tmp_path, **cfg):
    tasks = []
    for to_static in (False, True):
        config = hub.RunConfig(seed=0, num_epoch=1, batch_size=16, to_static=to_static,
                               checkpoint_dir=str(tmp_path / f"s{to_static}"), **cfg)
        tasks.append(hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10, config=config))
    return tasks


def test_evaluation_and_prediction_run_converted_and_match_dygraph(tmp_path, digits):
    dev = Digits(digits[1].x[:45], digits[1].y[:45])
    plain, static = _pair(tmp_path)
    results = [t.evaluate(dev, batch_size=16) for t in (plain, static)]
    assert isinstance(static.network.forward, paddle.jit.api.StaticFunction)
    assert results[0]["acc"] == results[1]["acc"]
    np.testing.assert_allclose(results[0]["loss"], results[1]["loss"], rtol=1e-6)
    probs = [np.concatenate(t.predict(dev, batch_size=16)[0]) for t in (plain, static)]
    np.testing.assert_allclose(probs[0], probs[1], rtol=1e-5, atol=1e-7)
    rows = [np.concatenate([rs.run_results[0] for rs in t.predict(data=[[x] for x in digits[1].x[:5]])])
            for t in (plain, static)]
    np.testing.assert_allclose(rows[1], rows[0], rtol=1e-5, atol=1e-7)


def test_text_task_converted_with_its_module_specs_trains_like_dygraph(tmp_path):
    from tiny_text import sentiment_rows, write_tiny_bert

    bert_dir = write_tiny_bert(str(tmp_path / "bert"), dropout=0.0)   # no dropout: the same steps either way
    rows = sentiment_rows(48)
    ends = []
    for to_static in (False, True):
        module = hub.Module(directory=bert_dir)
        _, outputs, _ = module.context(trainable=True, max_seq_len=24)

        class Rows(hub.dataset.BaseNLPDataset):
            def __init__(self):
                super().__init__(label_list=["0", "1"])
                self._splits["train"] = [hub.dataset.InputExample(guid=str(i), text_a=t, label=l)
                                         for i, (t, l) in enumerate(rows)]

        reader = hub.reader.ClassifyReader(dataset=Rows(), vocab_path=module.get_vocab_path(), max_seq_len=24)
        # plain SGD: Adam would turn rounding-level differences in near-zero gradients into whole steps
        config = hub.RunConfig(seed=0, num_epoch=1, batch_size=8, to_static=to_static, shuffle=False,
                               checkpoint_dir=str(tmp_path / f"t{to_static}"),
                               strategy=hub.DefaultFinetuneStrategy(learning_rate=0.1, optimizer_name="sgd"))
        paddle.seed(0)   # the same head
        task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"], num_classes=2,
                                      dropout=0.0, config=config)
        task.finetune()
        probs = [rs.run_results[0] for rs in task.predict(data=[["the film was good"], ["the movie was awful and bad"]])]
        ends.append(({k: v.numpy() for k, v in task.network.state_dict().items()}, np.concatenate(probs)))
    for name, value in ends[0][0].items():
        np.testing.assert_allclose(ends[1][0][name], value, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(ends[1][1], ends[0][1], rtol=1e-4, atol=1e-5)


class BranchesDiffer(nn.Layer):
    """A forward that only the plain interpreter runs: a branch on a tensor whose two sides return
    different structures cannot become one static graph, though the branch is never taken."""

    def __init__(self):
        super().__init__()
        paddle.seed(0)
        self.fc = nn.Linear(64, 32)

    def forward(self, x):
        h = self.fc(x)
        if h.sum() > 1e9:
            return h, h
        return h


def test_a_forward_that_cannot_be_converted_falls_back_to_dygraph_saying_where(tmp_path, digits, hub_warnings):
    train = Digits(digits[0].x[:64], digits[0].y[:64])
    ends = []
    for to_static in (False, True):
        config = hub.RunConfig(seed=0, num_epoch=1, batch_size=16, to_static=to_static,
                               checkpoint_dir=str(tmp_path / f"f{to_static}"))
        task = hub.ImageClassifierTask(feature=BranchesDiffer(), num_classes=10, config=config)
        task.finetune(train)
        ends.append({k: v.numpy() for k, v in task.network.state_dict().items()})
    assert ("to_static could not run TaskNet.forward (Dygraph2StaticException: Your if/else have different "
            "number of return value)") in hub_warnings.text
    assert "test_to_static.py" in hub_warnings.text and "if h.sum() > 1e9:" in hub_warnings.text
    assert not isinstance(task.network.forward, paddle.jit.api.StaticFunction)
    for name, value in ends[0].items():
        np.testing.assert_allclose(ends[1][name], value, rtol=1e-6, atol=1e-7, err_msg=name)
