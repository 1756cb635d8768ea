"""Shared set-up of the tests: every test starts from seeded random number
generators, and the helpers several test files use are fixtures here.

The tests import the installed package (`pip install -e '.[test]'`, see README).
"""
import os

import numpy as np
import pytest

os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('MXNET_ENGINE_TYPE', 'ThreadedEnginePerDevice')
# gluon_bert before MXNet, as in a user's script: its defaults (OpenMP threads,
# OpenBLAS kernels; gluon_bert/__init__.py) apply only when it is imported
# first.  The tests compare runs in this process with runs in subprocesses
# (resumed after a kill, the scripts), which import it first.
import gluon_bert  # noqa: E402,F401

# The tiny BERT of the training tests (each test chooses its dropout).
TINY_BERT = dict(num_hiddens=32, ffn_num_hiddens=32, num_heads=2, num_blks=1, max_len=32)


@pytest.fixture(autouse=True)
def _seed():
    import random
    import mxnet as mx
    random.seed(0)
    np.random.seed(0)
    mx.random.seed(0)
    yield


# ---------------------------------------------------------------------------
# Parameters


def _params_of(net):
    """{structural name: numpy array} of a Gluon block's parameters (the copy
    on its first device).  Structural names (`encoder.blks.0...`) are the same
    for two instances of a model, which `collect_params()`'s are not; Gluon 1.x
    offers them only through `_collect_params_with_prefix`."""
    return {k: v.data(v.list_ctx()[0]).asnumpy()
            for k, v in net._collect_params_with_prefix().items()}


def _max_diff(a, b):
    """The largest absolute difference of two {name: array} with the same names."""
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def _load_params(path):
    """{name: numpy array} of a saved .params file."""
    import mxnet as mx
    return {k: v.asnumpy() for k, v in mx.nd.load(path).items()}


# ---------------------------------------------------------------------------
# Tiny tasks and models


class ArrayNLI:
    """A dataset view holding only the arrays the training loops read."""

    def __init__(self, ds):
        self.all_token_ids, self.all_segments = ds.all_token_ids, ds.all_segments
        self.valid_lens, self.labels = ds.valid_lens, ds.labels

    def __len__(self):
        return len(self.labels)


def make_nli_arrays(num_pairs, seed, max_len=32):
    """(ArrayNLI, vocabulary size) of the synthetic task nli_task(num_pairs, seed)
    with a word vocabulary of all its words."""
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.data.synthetic import nli_task
    from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
    data = nli_task(num_pairs, seed=seed)
    vocab = build_vocab(tokenize(list(data.premises) + list(data.hypotheses)), min_freq=1)
    return ArrayNLI(SNLIBERTDataset(data, max_len, tokenizer=WordTokenizer(vocab))), len(vocab)


def make_tiny_pretrained(folder, seed, dropout):
    """Save in `folder` a tiny 'pretrained' BERT (TINY_BERT, initialised with
    mx.random.seed(seed)) whose vocabulary covers the synthetic task."""
    import mxnet as mx
    from gluon_bert.model import folders as checkpoint
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.model.bert import BERTModel
    from gluon_bert.data.synthetic import nli_task
    from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
    data = nli_task(300, seed=0)
    vocab = build_vocab(tokenize(list(data.premises) + list(data.hypotheses)), min_freq=1)
    bert = BERTModel(BERTConfig(vocab_size=len(vocab), dropout=dropout, **TINY_BERT))
    mx.random.seed(seed)
    bert.initialize(mx.init.Xavier())
    checkpoint.save_pretrained(folder, bert, WordTokenizer(vocab))
    return folder


# ---------------------------------------------------------------------------
# The helpers as fixtures: a test takes e.g. `params_of` as an argument.


def _helper_fixture(name, helper):
    """The session-scoped fixture `name` whose value is the function `helper`."""
    def fixture():
        return helper
    fixture.__doc__ = helper.__doc__
    return pytest.fixture(scope='session', name=name)(fixture)


_params_of_fixture = _helper_fixture('params_of', _params_of)
_max_diff_fixture = _helper_fixture('max_diff', _max_diff)
_load_params_fixture = _helper_fixture('load_params', _load_params)
_nli_arrays_fixture = _helper_fixture('nli_arrays', make_nli_arrays)
_tiny_pretrained_fixture = _helper_fixture('tiny_pretrained', make_tiny_pretrained)


@pytest.fixture
def numpy_mode():
    """`npx.set_np`, to call inside the test; NumPy mode is off again after it."""
    from mxnet import npx
    yield npx.set_np
    npx.reset_np()


D2L_VERSION = '0.12.0'


@pytest.fixture(scope='session')
def d2l012():
    """The d2l library of the chapter's revision, d2l 0.12.0 (`import d2l`;
    README's test install puts it there)."""
    import d2l
    version = getattr(d2l, '__version__', None)
    assert version == D2L_VERSION, (
        "the tests compare with the chapter's d2l %s, but `import d2l` finds %s (%s): "
        "pip install --no-deps d2l==%s" % (D2L_VERSION, version, d2l.__file__, D2L_VERSION))
    return d2l


@pytest.fixture(scope='session')
def finetuned_model(tmp_path_factory):
    """A classifier folder fine-tuned by `gluon_bert.train.jobs.run_finetuning`
    (1 epoch of the synthetic task, max_len 32) from a tiny pretrained BERT."""
    from gluon_bert.train.jobs import run_finetuning
    from gluon_bert.train.options import FinetuneArgs
    root = tmp_path_factory.mktemp('finetuned')
    pre = make_tiny_pretrained(str(root / 'pre'), seed=0, dropout=0.1)
    out = str(root / 'fin')
    run_finetuning(FinetuneArgs(pretrained=pre, dataset='synthetic', synthetic_pairs=[300, 60],
                                max_len=32, batch_size=32, num_epochs=1, lr=1e-3,
                                progress=False, no_checkpoints=True, num_workers=1,
                                output=out))
    return out
