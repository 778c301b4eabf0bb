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
