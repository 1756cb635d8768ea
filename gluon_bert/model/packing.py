"""No work for padded positions: the encoder's position-wise layers on the real
tokens only.

A batch padded to length L holds `sum(valid_lens)` real tokens out of `B * L`.
Everything in a Transformer block except the attention itself works on each
position alone (the query/key/value/output projections, the FFN, the residual
adds, dropout and LayerNorm), so it can run on the real tokens packed into one
`(N, H)` matrix; only the attention's scores and weighted sums need the
`(B, L, H)` layout.  The encoder then unpacks Q, K and V before the attention
and packs its output after it (`gather_nd`, a copy).  At the real positions
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

__all__ = ['PACK_MULTIPLE', 'packing_indices', 'pack', 'unpack', 'Packed']

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


def _rows(F, X, idx):
    """The rows `idx` (any shape) of the 2-D `X`: `F.take(X, idx)`, but with
    `gather_nd`, whose index gets its (zero) gradient from a `zeros_like` node of
    its own.  The same indices feed a gather in every block; past MXNet's
    in-place gradient-sum cap (8 uses: a 6-block encoder, all-MiniLM-L6-v2) the
    index gradients of `take` are summed with `kAddTo`, which `take` refuses
    ("take layer doesn't support gradient of req type kAddTo to index")."""
    return F.gather_nd(X, F.expand_dims(idx, axis=0))


def pack(F, X, pack_idx):
    """(B, L, H) -> (N, H): the rows of `pack_idx`."""
    return _rows(F, reshape(F, X, (-3, 0)), pack_idx)


def unpack(F, X, unpack_idx):
    """(N, H) -> (B, L, H) with zeros at the padded positions (index N, one past
    the packed rows, reads an appended zero row): the attention's inputs, where
    no padded position is used (its key is masked, its value weighted 0, its
    query's output not packed again), and the encoder's output."""
    zero = F.zeros_like(F.slice_axis(X, axis=0, begin=0, end=1))
    return _rows(F, F.concat(X, zero, dim=0), unpack_idx)


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
