import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('MXNET_ENGINE_TYPE', 'ThreadedEnginePerDevice')


@pytest.fixture(autouse=True)
def _seed():
    import random
    import numpy as np
    import mxnet as mx
    random.seed(0)
    np.random.seed(0)
    mx.random.seed(0)
    yield
