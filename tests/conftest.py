import os
import sys

os.environ.setdefault("HUBTRAIN_LOG_LEVEL", "WARNING")

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "scripts"))
from tiny import Digits, digits_splits, mlp_backbone  # noqa: E402,F401


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits: 1,200 train, 300 dev, 297 test, features scaled to [0, 1]."""
    return digits_splits()


@pytest.fixture
def backbone():
    return mlp_backbone()


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A real paddlenlp save_pretrained directory: BERT, 2 layers, hidden 32, a 40-word vocabulary."""
    from tiny_text import write_tiny_bert
    return write_tiny_bert(str(tmp_path_factory.mktemp("tiny_bert")))


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """An empty HUBTRAIN_HOME, so named modules and datasets are looked for there."""
    monkeypatch.setenv("HUBTRAIN_HOME", str(tmp_path / "hub_home"))
    return tmp_path / "hub_home"


@pytest.fixture(autouse=True)
def hubtrain_logging():
    """Every test starts with hubtrain's logging as this process set it up: the line handler on
    stdout (as the command line has), records propagating to pytest's capture."""
    from hubtrain.log import install_handler

    install_handler(propagate=True)
    yield


@pytest.fixture
def hub_warnings(caplog):
    """hubtrain's WARNING lines in `caplog.text` (the hubtrain logger propagates to caplog's handler)."""
    import logging

    with caplog.at_level(logging.WARNING, logger="hubtrain"):
        yield caplog
