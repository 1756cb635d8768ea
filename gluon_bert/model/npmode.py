"""gluon_bert's blocks under `npx.set_np()`: they take and return `mx.np` arrays.

The blocks are written with MXNet's legacy operators (`F.FullyConnected`,
`F.softmax(..., length=...)`, ...), which refuse `mx.np` arrays.  Each block's
`hybrid_forward` starts with `F = legacy_ops(F)`.  Under `npx.set_np()` that is
`F` whose operators take legacy views of their `mx.np` inputs (arrays or
symbols) and return `mx.np` views of their results; the views are made without
copying (`as_nd_ndarray` / `as_np_ndarray`) and keep the autograd history, so
gradients flow through them, and a hybridized block builds the same graph in
both modes.  Without `npx.set_np()` it is `F` itself: the legacy path is
unchanged.
"""
import types

from mxnet.util import is_np_array

__all__ = ['legacy_ops', 'reshape']


def _legacy(x):
    return x.as_nd_ndarray() if hasattr(x, 'as_nd_ndarray') else x


def _numpy(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_numpy(a) for a in x)
    return x.as_np_ndarray() if hasattr(x, 'as_np_ndarray') else x


class _LegacyOps:
    """The operators of `F` (`mx.nd` or `mx.sym`, or one of their submodules)
    on NumPy-mode arrays."""

    def __init__(self, F):
        self._F = F

    def __getattr__(self, name):
        op = getattr(self._F, name)
        if isinstance(op, types.ModuleType):            # F.contrib
            return _LegacyOps(op)

        def call(*args, **kwargs):
            return _numpy(op(*[_legacy(a) for a in args],
                             **{k: _legacy(v) for k, v in kwargs.items()}))
        return call


def legacy_ops(F):
    """`F`, or under `npx.set_np()` its operators on NumPy-mode arrays."""
    return _LegacyOps(F) if is_np_array() else F


def reshape(F, X, shape, reverse=False):
    """`X.reshape(shape, reverse=reverse)` with the legacy codes (0 copies a
    dimension, -1 infers one, -3 merges two) for the arrays of `F` (from
    `legacy_ops`) in either mode."""
    kwargs = dict(reverse=True) if reverse else {}
    if isinstance(F, _LegacyOps):
        return F.reshape(X, shape=shape, **kwargs)
    return X.reshape(shape, **kwargs)
