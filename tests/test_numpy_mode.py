"""gluon_bert's blocks under `npx.set_np()`: they take and return `mx.np` arrays,
hybridized or not, with the outputs and gradients of the legacy `mx.nd` path
(the same parameters, the same inputs)."""
import numpy as np
import mxnet as mx
import pytest
from mxnet import autograd

from gluon_bert.model.bert import BERTClassifier, BERTModel
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.packing import Packed, packing_indices

V = 50


def config(**kw):
    d = dict(vocab_size=V, num_hiddens=32, ffn_num_hiddens=48, num_heads=4, num_blks=2,
             dropout=0.0, max_len=24)
    d.update(kw)
    return BERTConfig(**d)


def batch(seed=0):
    rng = np.random.RandomState(seed)
    B, L = 4, 12
    valid = np.array([12, 3, 9, 5], np.float32)
    tokens = rng.randint(5, V, (B, L)).astype(np.int32)
    segments = (np.arange(L)[None, :] >= (valid[:, None] // 2)).astype(np.int32)
    positions = np.array([[1, 2, 3], [1, 2, 0], [4, 5, 8], [0, 3, 4]], np.int32)
    return tokens, segments, valid, positions


def run(make, inputs, weights, hybridize):
    """Outputs and parameter gradients (host arrays) of the block `make()` with
    the parameter values `weights` on the host arrays `inputs`, in the mode
    active now."""
    array = mx.np.array if mx.util.is_np_array() else mx.nd.array
    net = make()
    net.initialize(mx.init.Xavier())
    params = net._collect_params_with_prefix()
    for name, value in weights.items():
        params[name].set_data(array(value))
    if hybridize:
        net.hybridize()
    args = [array(a, dtype=a.dtype) for a in inputs]
    with autograd.record():
        out = net(*args)
        out = [o for o in (out if isinstance(out, (list, tuple)) else [out]) if o is not None]
        loss = sum((o * o).sum() for o in out)
    loss.backward()
    kind = mx.np.ndarray if mx.util.is_np_array() else mx.nd.NDArray
    assert all(type(o) is kind for o in out)
    return ([o.asnumpy() for o in out],
            {k: p.grad().asnumpy() for k, p in params.items() if p.grad_req != 'null'})


def _bert():
    return BERTModel(config())


def _classifier(head):
    def make():
        return BERTClassifier(BERTModel(config()), head=head)
    return make


def _packed_encoder():
    return Packed(BERTModel(config()).encoder)


def _weights(make):
    net = make()
    net.initialize(mx.init.Xavier())
    return {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items()}


CASES = {
    'bert': (_bert, lambda b: b),
    'classifier hidden': (_classifier('hidden'), lambda b: b[:3]),
    'classifier mlp': (_classifier('mlp'), lambda b: b[:3]),
    'packed encoder': (_packed_encoder,
                       lambda b: b[:3] + packing_indices(b[2], b[0].shape[1], multiple=8)),
}


@pytest.mark.parametrize('hybridize', [False, True], ids=['imperative', 'hybridized'])
@pytest.mark.parametrize('case', sorted(CASES))
def test_numpy_mode_equals_the_legacy_path(case, hybridize, numpy_mode):
    make, inputs_of = CASES[case]
    inputs = inputs_of(batch())
    weights = _weights(make)
    legacy_out, legacy_grads = run(make, inputs, weights, hybridize)
    numpy_mode()
    out, grads = run(make, inputs, weights, hybridize)
    assert len(out) == len(legacy_out) and sorted(grads) == sorted(legacy_grads)
    for a, b in zip(out, legacy_out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for name in grads:
        np.testing.assert_allclose(grads[name], legacy_grads[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    assert any(np.abs(g).max() > 0 for g in grads.values())
