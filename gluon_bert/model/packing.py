"""No work for padded positions: the encoder's position-wise layers on the real
tokens only.

A batch padded to length L holds `sum(valid_lens)` real tokens out of `B * L`.
Everything in a Transformer block except the attention itself works on each
position alone (the query/key/value/output projections, the FFN, the residual
adds, dropout and LayerNorm), so it can run on the real tokens packed into one
`(N, H)` matrix; only the attention's scores and weighted sums need the
`(B, L, H)` layout.  The encoder then unpacks Q, K and V before the attention
and packs its output after it (`mx.nd.take`, a copy).  At the real positions
the function is the same as the padded computation; the padded positions of the
encoder's output are zeros.

`packing_indices` builds the two index arrays on the host; the training loops
pass them to `BERTEncoder` / `BERTClassifier` (`TrainArgs.pack`).  Dropout draws
its masks for the packed tokens only, so a packed run's random masks differ from
an unpacked one's.
"""
import numpy as np
from mxnet.gluon import nn

from gluon_bert.model.npmode import reshape

__all__ = ['PACK_MULTIPLE', 'packing_indices', 'index_copies', 'pack', 'unpack',
           'unpack_with_zeros', 'Packed']

# N is rounded up to a multiple of this (with copies of the first token, whose
# results are never read): fewer distinct shapes for the static graph.
PACK_MULTIPLE = 32


def packing_indices(valid_lens, seq_len, multiple=PACK_MULTIPLE):
    """`(pack_idx (N,), unpack_idx (B, seq_len))`, int32 host arrays.
    `pack_idx[i]`: the position in the flattened `(B * seq_len)` batch of packed
    row i (the real tokens in order, then filler rows); `unpack_idx[b, t]`: the
    packed row of position t of example b, or N for a padded position."""
    valid = np.clip(np.asarray(valid_lens).astype(np.int64).reshape(-1), 0, seq_len)
    real = np.flatnonzero(np.arange(seq_len)[None, :] < valid[:, None])
    n = len(real)
    size = max(multiple, -(-n // multiple) * multiple)
    pack_idx = np.zeros(size, np.int32)
    pack_idx[:n] = real
    unpack_idx = np.full(len(valid) * seq_len, size, np.int32)
    unpack_idx[real] = np.arange(n, dtype=np.int32)
    return pack_idx, unpack_idx.reshape(len(valid), seq_len)


def index_copies(F, idx, n):
    """`n` copies of the index array `idx`, each its own graph node.  Every block
    gathers with the same indices; when one index node feeds 8 or more `take`s
    (a 6-block encoder such as all-MiniLM-L6-v2), MXNet sums their index
    gradients in place (`MXNET_EXEC_INPLACE_GRAD_SUM_CAP`), with `kAddTo`, which
    `take` refuses ("take layer doesn't support gradient of req type kAddTo to
    index").  A copy per block keeps every index node to a few `take`s."""
    copies = F.split(F.broadcast_axis(F.expand_dims(idx, axis=0), axis=0, size=n),
                     num_outputs=n, axis=0, squeeze_axis=True)
    return list(copies) if n > 1 else [copies]


def pack(F, X, pack_idx):
    """(B, L, H) -> (N, H): the rows of `pack_idx`."""
    return F.take(reshape(F, X, (-3, 0)), pack_idx)


def unpack(F, X, unpack_idx):
    """(N, H) -> (B, L, H) for the attention.  A padded position reads the last
    packed row (`take` clips the index N): the attention never uses it (its key
    is masked, its value weighted 0, its query's output not packed again), so
    nothing flows back through it."""
    return F.take(X, unpack_idx)


def unpack_with_zeros(F, X, unpack_idx):
    """(N, H) -> (B, L, H) with zeros at the padded positions: the encoder's output."""
    zero = F.zeros_like(F.slice_axis(X, axis=0, begin=0, end=1))
    return F.take(F.concat(X, zero, dim=0), unpack_idx)


class Packed(nn.HybridBlock):
    """`block` (a `BERTEncoder` or `BERTClassifier`) called with the packing
    indices as two more inputs.  A hybridized block keeps the input structure of
    its first call, so the packed calls of a training loop go through this
    wrapper, with a graph of its own, and `block` itself stays callable as
    before (evaluation, export).  The parameters are `block`'s."""

    def __init__(self, block, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def hybrid_forward(self, F, *inputs):
        return self.block(*inputs)
