"""Batches grouped by length: every sample once an epoch, similar lengths in a step's batches on
every rank, the order a pure function of (seed, epoch) so resume stays exact, and a text
reader's split giving the lengths to a finetune."""
import numpy as np
import paddle
import pytest

import hubtrain as hub
from hubtrain.engine.sampler import ResumableBatchSampler

LENGTHS = np.random.RandomState(3).randint(2, 500, 1000)


def sampler(epoch=0, seed=7, lengths=LENGTHS, nranks=1, rank=0, batch=16, **kw):
    s = ResumableBatchSampler(len(LENGTHS), batch, True, False, seed, nranks, rank, True, lengths, **kw)
    s.set_epoch(epoch)
    return s


def spread(batches):
    return np.mean([LENGTHS[b].max() - LENGTHS[b].min() for b in batches])


def test_every_sample_once_and_batches_of_similar_length():
    grouped, plain = list(sampler()), list(sampler(lengths=None))
    assert sorted(i for b in grouped for i in b) == list(range(len(LENGTHS)))
    assert [len(b) for b in grouped] == [len(b) for b in plain]
    # 50-batch windows of 800 samples: a batch holds 16 neighbours in length among them
    assert spread(grouped) < spread(plain) / 10


def test_the_order_is_a_pure_function_of_seed_and_epoch():
    assert list(sampler()) == list(sampler())
    assert list(sampler(epoch=1)) != list(sampler(epoch=0))
    assert list(sampler(seed=8)) != list(sampler())
    # the long batches are not all at the start of a window: batches are shuffled within it
    firsts = [LENGTHS[b].max() for b in list(sampler())[:50]]
    assert firsts != sorted(firsts, reverse=True)


def test_resume_takes_up_the_same_batches():
    whole = list(sampler(epoch=2))
    later = sampler(epoch=2)
    later.set_epoch(2, skip=17)
    assert list(later) == whole[17:]
    assert later.batch_indices(2, 20) == whole[20]


def test_ranks_step_together_on_samples_of_similar_length():
    ranks = [list(sampler(nranks=2, rank=r)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1])
    steps = [a + b for a, b in zip(*ranks)]
    assert sorted(set(i for s in steps for i in s)) == list(range(len(LENGTHS)))
    assert spread(steps[:-1]) < spread(list(sampler(lengths=None, batch=32))) / 10


def test_without_shuffle_or_lengths_nothing_changes():
    plain = ResumableBatchSampler(len(LENGTHS), 16, False, False, 0, 1, 0, True, LENGTHS)
    assert [i for b in plain for i in b] == list(range(len(LENGTHS)))
    with pytest.raises(ValueError, match="lengths has 3 entries for 1000 samples"):
        ResumableBatchSampler(len(LENGTHS), 16, True, lengths=[1, 2, 3])


def test_a_finetune_groups_a_text_readers_batches(tiny_bert_dir, tmp_path):
    from tiny_text import sentiment_task

    widths = {}
    for group in (False, True):
        task, reader = sentiment_task(tiny_bert_dir, tmp_path, 64, num_epoch=1, batch_size=8, seed=1,
                                      group_by_length=group, checkpoint_dir=str(tmp_path / f"ck{group}"))
        lengths = reader.get_dataset("train").lengths()
        assert len(lengths) == 64 and lengths.min() < lengths.max() <= 32
        task.finetune()
        batches = list(task.current_run.env_of("train").loader.batch_sampler)  # the epoch the run trained
        assert sorted(i for b in batches for i in b) == list(range(64))
        widths[group] = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert widths[True] < widths[False] / 2


def test_grouping_asked_of_data_without_lengths_says_so(hub_warnings):
    rs = np.random.RandomState(0)
    x, y = rs.rand(64, 8).astype("float32"), rs.randint(0, 10, (64, 1)).astype("int64")
    data = paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])
    net = paddle.nn.Sequential(paddle.nn.Linear(8, 16), paddle.nn.ReLU())
    task = hub.ImageClassifierTask(feature=net, num_classes=10, feature_dim=16,
                                   config=hub.RunConfig(group_by_length=True, batch_size=16, use_vdl=False))
    task.prepare(paddle.optimizer.SGD(0.1, parameters=task.parameters()))
    task.fit(data, batch_size=16, epochs=1, verbose=0)
    assert "group_by_length: the train data gives no sample lengths" in hub_warnings.text
