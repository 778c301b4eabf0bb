"""predict(..., output_file=...): one JSON line per sample, in order, nothing kept in memory."""
import json

import numpy as np

import hubtrain as hub
from tiny import Digits, mlp_backbone


def test_streamed_predictions_equal_the_in_memory_ones_row_for_row(tmp_path, digits):
    task = hub.ImageClassifierTask(feature=mlp_backbone(), num_classes=10)
    dev = Digits(digits[1].x[:45], digits[1].y[:45])
    path = task.predict(dev, batch_size=16, output_file=str(tmp_path / "out" / "pred.jsonl"))
    rows = [json.loads(line) for line in open(path)]
    assert [r["index"] for r in rows] == list(range(45))
    expected = np.concatenate([rs.run_results[0] for rs in task.predict(data=[[x] for x in digits[1].x[:45]])])
    np.testing.assert_allclose(np.array([r["probs"] for r in rows]), expected, rtol=1e-5, atol=1e-7)
    assert [r["label"] for r in rows] == expected.argmax(axis=1).tolist()
    # nothing from the streamed run stays behind in the run states
    stream = task.predict(dev, batch_size=16, output_file=str(tmp_path / "again.jsonl"))
    streamed = task.current_run.envs["predict"].run_states
    assert len(streamed) == 3 and all(len(rs._results) == 0 for rs in streamed)   # 45 samples, batches of 16
    assert open(stream).read() == open(path).read()
    assert not (tmp_path / "again.jsonl.part").exists()


def test_streamed_raw_examples_carry_label_names(tmp_path, tiny_bert_dir):
    from tiny_text import sentiment_rows

    module = hub.Module(directory=tiny_bert_dir)
    _, outputs, _ = module.context(trainable=True, max_seq_len=24)

    class Rows(hub.dataset.BaseNLPDataset):
        def __init__(self):
            super().__init__(label_list=["negative", "positive"])

    reader = hub.reader.ClassifyReader(dataset=Rows(), vocab_path=module.get_vocab_path(), max_seq_len=24)
    task = hub.TextClassifierTask(data_reader=reader, feature=outputs["pooled_output"], num_classes=2)
    texts = [[t] for t, _ in sentiment_rows(7)]
    path = task.predict(data=texts, output_file=str(tmp_path / "p.jsonl"))
    rows = [json.loads(line) for line in open(path)]
    assert len(rows) == 7 and all(r["label"] in ("negative", "positive") for r in rows)
    assert [r["label"] for r in rows] == task.predict(data=texts, return_result=True)  # label names
