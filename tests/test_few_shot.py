"""dataset.few_shot: a per-label draw of the training split, the other splits shared."""
from collections import Counter

import pytest

import hubtrain as hub


def test_few_shot_keeps_per_label_examples_and_shares_the_rest():
    full = hub.dataset.BBCNews()
    few = full.few_shot(7, seed=3)
    counts = Counter(e.label for e in few.get_train_examples())
    assert set(counts) == set(full.get_labels()) and set(counts.values()) == {7}
    guids = [e.guid for e in full.get_train_examples()]
    picked = [e.guid for e in few.get_train_examples()]
    assert picked == sorted(picked, key=guids.index)                 # dataset order kept
    assert few.get_dev_examples() is full.get_dev_examples() and len(full.get_train_examples()) == 1781
    assert picked != [e.guid for e in full.few_shot(7, seed=4).get_train_examples()]
    assert picked == [e.guid for e in full.few_shot(7, seed=3).get_train_examples()]


def test_few_shot_refuses_bad_arguments_and_multi_label_sets():
    with pytest.raises(ValueError, match="per_label=0"):
        hub.dataset.BBCNews().few_shot(0)
    with pytest.raises(ValueError, match="single-label dataset"):
        hub.dataset.BBCNewsMultiLabel().few_shot(3)
