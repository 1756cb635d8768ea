"""The BERT model of the chapter, as Gluon HybridBlocks.

`BERTEncoder` (token + segment + learnable positional embeddings, then Transformer
encoder blocks), `MaskLM`, `NextSentencePred`, `BERTModel` returning
`(encoded_X, mlm_Y_hat, nsp_Y_hat)`, and `BERTClassifier` for SNLI.  Every block is
built from a `BERTConfig`; structural parameter names (`encoder.blks.0.attention.W_q.weight`)
are stable so checkpoints travel between versions and frameworks.
"""
import math

from mxnet.gluon import nn

from gluon_bert.model.config import BERTConfig
from gluon_bert.model.heads import POOLING_HEADS, make_head
from gluon_bert.model.npmode import legacy_ops, reshape
from gluon_bert.model.packing import index_copies, pack, unpack, unpack_with_zeros

__all__ = ['LayerNorm', 'layer_norm', 'select_layer_norm', 'MultiHeadAttention',
           'PositionWiseFFN', 'AddNorm', 'TransformerEncoderBlock',
           'BERTEncoder', 'MaskLM', 'NextSentencePred', 'BERTModel', 'BERTClassifier',
           'cls_encoding']


def _activation(name):
    if name == 'gelu':
        return nn.GELU()
    if name in ('relu', 'tanh', 'sigmoid', 'softrelu'):
        return nn.Activation(name)
    raise ValueError('unknown activation %r' % name)


def _rows_times(F, a, w, num_hidden):
    """`a @ w.T` over the last axis of `a`: MXNet's matrix product, which on CPU is
    many times faster than its reductions and broadcasts along that axis."""
    return F.FullyConnected(a, w, no_bias=True, num_hidden=num_hidden, flatten=False)


class LayerNorm(nn.HybridBlock):
    """Layer normalization over the last axis: the function and parameters
    (`gamma`, `beta`) of `nn.LayerNorm`, computed one of two ways (`impl`):

    * `'matmul'`: every reduction and broadcast along the feature axis written as
      a matrix product.  MXNet 1.9's CPU `LayerNorm` backward and its last-axis
      `sum` run at a small fraction of the GEMM rate; this way forward plus
      backward takes about a quarter of the time on a CPU (see BENCHMARKS.md).
    * `'native'`: MXNet's fused `LayerNorm` operator, the better choice on GPUs.
    * `'portable'`: `'matmul'` with `reciprocal(sqrt)` for `rsqrt`, for the ONNX exporter
      (which converts neither `rsqrt` nor, with onnx >= 1.13, `LayerNorm`).

    `BERTConfig.layer_norm` picks it; `'auto'` (the default) is `'matmul'` until
    `select_layer_norm` sees the devices (the training loops call it).
    """

    def __init__(self, units, epsilon=1e-5, impl='auto', **kwargs):
        super().__init__(**kwargs)
        if impl not in LAYER_NORM_IMPLS:
            raise ValueError('layer_norm must be one of %s, not %r'
                             % (', '.join(LAYER_NORM_IMPLS), impl))
        self._units, self._epsilon = units, epsilon
        self.auto = impl == 'auto'
        self.impl = 'matmul' if self.auto else impl
        self.gamma = self.params.get('gamma', shape=(units,), init='ones')
        self.beta = self.params.get('beta', shape=(units,), init='zeros')

    def hybrid_forward(self, F, X, gamma, beta):
        F = legacy_ops(F)
        if self.impl == 'native':
            return F.LayerNorm(X, gamma, beta, axis=-1, eps=self._epsilon)
        h = self._units
        mean_w, spread_w = F.ones((1, h)) / h, F.ones((h, 1))
        xc = X - _rows_times(F, _rows_times(F, X, mean_w, 1), spread_w, h)
        var = _rows_times(F, F.square(xc), mean_w, 1) + self._epsilon
        # 'portable': operators the ONNX exporter converts (it has no rsqrt)
        rstd = F.rsqrt(var) if self.impl == 'matmul' else F.reciprocal(F.sqrt(var))
        # rstd (N, 1) times gamma (1, h) and ones (N, 1) times beta (1, h) as outer
        # products: their gradients are matrix products too.
        scale = _rows_times(F, rstd, gamma.reshape((h, 1)), h)
        shift = _rows_times(F, F.ones_like(rstd), beta.reshape((h, 1)), h)
        return xc * scale + shift

    def __repr__(self):
        return '%s(%d, epsilon=%g, impl=%s%s)' % (type(self).__name__, self._units,
                                                self._epsilon, self.impl,
                                                ' (auto)' if self.auto else '')


LAYER_NORM_IMPLS = ('auto', 'matmul', 'native', 'portable')


def layer_norm(config):
    """The LayerNorm block of `config` (`config.layer_norm`: auto, matmul, native)."""
    return LayerNorm(config.num_hiddens, epsilon=config.layer_norm_eps, impl=config.layer_norm)


def select_layer_norm(net, ctxs):
    """Resolve the `'auto'` LayerNorms of `net` for the devices `ctxs`: MXNet's
    fused operator on GPUs, matrix products on CPUs.  Call before `hybridize`
    (which rebuilds the graph).  Returns the choice."""
    impl = 'native' if any(c.device_type == 'gpu' for c in ctxs) else 'matmul'

    def visit(block):
        if isinstance(block, LayerNorm) and block.auto:
            block.impl = impl
    net.apply(visit)
    return impl


class MultiHeadAttention(nn.HybridBlock):
    """Multi-head scaled dot-product self-attention, masked by `valid_lens`."""

    def __init__(self, num_hiddens, num_heads, dropout, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if num_hiddens % num_heads:
            raise ValueError('num_hiddens (%d) must be a multiple of num_heads (%d)'
                             % (num_hiddens, num_heads))
        self.num_heads = num_heads
        self._scale = 1.0 / math.sqrt(num_hiddens // num_heads)
        with self.name_scope():
            self.W_q = nn.Dense(num_hiddens, use_bias=use_bias, flatten=False,
                                in_units=num_hiddens)
            self.W_k = nn.Dense(num_hiddens, use_bias=use_bias, flatten=False,
                                in_units=num_hiddens)
            self.W_v = nn.Dense(num_hiddens, use_bias=use_bias, flatten=False,
                                in_units=num_hiddens)
            self.W_o = nn.Dense(num_hiddens, use_bias=use_bias, flatten=False,
                                in_units=num_hiddens)
            self.dropout = nn.Dropout(dropout)

    # The reshapes avoid MXNet's -3/-4 codes (merge/split two axes), which the
    # ONNX exporter cannot convert: `reverse=True` copies the last axes instead.
    def _split_heads(self, F, X):
        # (B, L, H) -> (B * heads, L, H / heads)
        X = reshape(F, X, (0, 0, self.num_heads, -1)).transpose((0, 2, 1, 3))
        return reshape(F, X, (-1, 0, 0), reverse=True)

    def hybrid_forward(self, F, X, valid_lens, pack_idx=None, unpack_idx=None):
        # X: (B, L, H), or the packed real tokens (N, H) with their indices
        # (gluon_bert.model.packing): projections on N rows, attention on (B, L).
        F = legacy_ops(F)
        q, k, v = self.W_q(X) * self._scale, self.W_k(X), self.W_v(X)
        if pack_idx is not None:
            q, k, v = (unpack(F, a, unpack_idx) for a in (q, k, v))
        q, k, v = (self._split_heads(F, a) for a in (q, k, v))
        scores = F.batch_dot(q, k, transpose_b=True)           # (B*h, Lq, Lk)
        # Each query of example b may attend to the first valid_lens[b] keys.
        lens = F.repeat(valid_lens.astype('int32'), repeats=self.num_heads, axis=0)
        lens = F.broadcast_like(F.expand_dims(lens, axis=1), scores, lhs_axes=(1,), rhs_axes=(1,))
        weights = F.softmax(scores, length=lens, use_length=True, axis=-1)
        out = F.batch_dot(self.dropout(weights), v)            # (B*h, Lq, d)
        out = reshape(F, out, (-1, self.num_heads, 0, 0), reverse=True).transpose((0, 2, 1, 3))
        out = reshape(F, out, (0, 0, -1))
        return self.W_o(out if pack_idx is None else pack(F, out, pack_idx))


class PositionWiseFFN(nn.HybridBlock):
    """Two dense layers applied at every position."""

    def __init__(self, ffn_num_hiddens, num_hiddens, activation='relu', **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.dense1 = nn.Dense(ffn_num_hiddens, flatten=False, in_units=num_hiddens)
            self.act = _activation(activation)
            self.dense2 = nn.Dense(num_hiddens, flatten=False, in_units=ffn_num_hiddens)

    def hybrid_forward(self, F, X):
        return self.dense2(self.act(self.dense1(X)))


class AddNorm(nn.HybridBlock):
    """Residual connection followed by layer normalization: LN(dropout(Y) + X)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.dropout = nn.Dropout(config.dropout)
            self.ln = layer_norm(config)

    def hybrid_forward(self, F, X, Y):
        return self.ln(self.dropout(Y) + X)


class TransformerEncoderBlock(nn.HybridBlock):
    """Self-attention and position-wise FFN, each with AddNorm."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        c = config
        att_dropout = c.dropout if c.attention_dropout is None else c.attention_dropout
        with self.name_scope():
            self.attention = MultiHeadAttention(c.num_hiddens, c.num_heads, att_dropout, True)
            self.addnorm1 = AddNorm(c)
            self.ffn = PositionWiseFFN(c.ffn_num_hiddens, c.num_hiddens, c.activation)
            self.addnorm2 = AddNorm(c)

    def hybrid_forward(self, F, X, valid_lens, pack_idx=None, unpack_idx=None):
        Y = self.addnorm1(X, self.attention(X, valid_lens, pack_idx, unpack_idx))
        return self.addnorm2(Y, self.ffn(Y))


class BERTEncoder(nn.HybridBlock):
    """Token + segment + learnable positional embeddings, then `num_blks` blocks.
    Given `pack_idx` and `unpack_idx` (`model.packing.packing_indices`), the blocks
    work on the real tokens only and the padded positions of the output are 0."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        c = config
        self.max_len = c.max_len
        with self.name_scope():
            self.token_embedding = nn.Embedding(c.vocab_size, c.num_hiddens)
            self.segment_embedding = nn.Embedding(c.type_vocab_size, c.num_hiddens)
            # Learnable positional embeddings, long enough for max_len.
            self.pos_embedding = self.params.get('pos_embedding',
                                                 shape=(1, c.max_len, c.num_hiddens))
            if c.embed_layer_norm:
                self.embed_ln = layer_norm(c)
                self.embed_dropout = nn.Dropout(c.dropout)
            else:
                self.embed_ln = None
            self.blks = nn.HybridSequential()
            for _ in range(c.num_blks):
                self.blks.add(TransformerEncoderBlock(c))

    def hybrid_forward(self, F, tokens, segments, valid_lens, pack_idx=None, unpack_idx=None,
                       pos_embedding=None):
        F = legacy_ops(F)
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        # Add the first L positions to every example.  As the outer product
        # ones (B, 1) x positions (1, L * H), the gradient of the positions is a
        # matrix product rather than MXNet's slow reduction over the batch axis.
        pos = F.slice_like(pos_embedding, X, axes=(1,)).reshape((1, -1))
        ones = reshape(F, F.ones_like(F.slice_axis(F.slice_axis(X, axis=1, begin=0, end=1),
                                                   axis=2, begin=0, end=1)), (0, 1))
        X = X + F.reshape_like(F.dot(ones, pos), X)
        if self.embed_ln is not None:
            X = self.embed_dropout(self.embed_ln(X))
        if pack_idx is None:
            for blk in self.blks:
                X = blk(X, valid_lens)
            return X
        n = len(self.blks) + 1
        packs, unpacks = index_copies(F, pack_idx, n), index_copies(F, unpack_idx, n)
        X = pack(F, X, packs[0])
        for blk, p, u in zip(self.blks, packs[1:], unpacks[1:]):
            X = blk(X, valid_lens, p, u)
        return unpack_with_zeros(F, X, unpacks[0])


def cls_encoding(F, X):
    """The encoding of the first token (`<cls>`): (B, L, H) -> (B, H)."""
    return reshape(F, F.slice_axis(X, axis=1, begin=0, end=1), (0, -1))


class MaskLM(nn.HybridBlock):
    """Predict the tokens at `pred_positions` from the encodings:
    Dense -> activation -> LayerNorm -> Dense(vocab), named `mlp.0 / mlp.1 / mlp.2`
    as the chapter's `nn.Sequential`."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        c = config
        act = c.mlm_activation
        with self.name_scope():
            self.mlp = nn.HybridSequential()
            # ReLU is fused into the Dense as the chapter; other activations follow it.
            self.mlp.add(nn.Dense(c.num_hiddens, flatten=False, in_units=c.num_hiddens,
                                  activation='relu' if act == 'relu' else None))
            self.mlp.add(layer_norm(c))
            self.mlp.add(nn.Dense(c.vocab_size, flatten=False, in_units=c.num_hiddens))
            self.act = None if act == 'relu' else _activation(act)

    def hybrid_forward(self, F, X, pred_positions):
        F = legacy_ops(F)
        pred_positions = pred_positions.astype('int32')
        batch_idx = F.contrib.arange_like(pred_positions, axis=0).astype('int32')
        batch_idx = F.broadcast_like(F.expand_dims(batch_idx, axis=1), pred_positions)
        masked_X = F.gather_nd(X, F.stack(batch_idx, pred_positions, axis=0))
        h = self.mlp[0](masked_X)
        if self.act is not None:
            h = self.act(h)
        return self.mlp[2](self.mlp[1](h))                  # (B, P, vocab)


class NextSentencePred(nn.HybridBlock):
    """Binary classifier: is the second sentence the next one?"""

    def __init__(self, num_hiddens=0, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.output = nn.Dense(2, in_units=num_hiddens)

    def hybrid_forward(self, F, X):
        return self.output(X)


class BERTModel(nn.HybridBlock):
    """Encoder + `hidden` (tanh Dense on `<cls>`) + MaskLM + NextSentencePred."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(config, BERTConfig):
            raise TypeError('BERTModel takes a BERTConfig')
        self.config = config
        with self.name_scope():
            self.encoder = BERTEncoder(config)
            self.hidden = nn.Dense(config.num_hiddens, activation='tanh',
                                   in_units=config.num_hiddens)
            self.mlm = MaskLM(config)
            self.nsp = NextSentencePred(config.num_hiddens)

    def hybrid_forward(self, F, tokens, segments, valid_lens, pred_positions=None):
        F = legacy_ops(F)
        encoded_X = self.encoder(tokens, segments, valid_lens)
        mlm_Y_hat = None if pred_positions is None else self.mlm(encoded_X, pred_positions)
        nsp_Y_hat = self.nsp(self.hidden(cls_encoding(F, encoded_X)))
        return encoded_X, mlm_Y_hat, nsp_Y_hat


class BERTClassifier(nn.HybridBlock):
    """The pretrained encoder and a classifier head on it (`head`, default
    `config.classifier_head`).

    'mlp', the chapter's: a new `Dense(classifier_hiddens, relu)` + `Dense(num_classes)`
    on the `<cls>` encoding; 'hidden', d2l 1.0's: the pretrained tanh `hidden` and a
    new `Dense(num_classes)`; a head of `model.heads` ('mean', 'cnn', 'bilstm',
    'attention'): that head `pool` on all the valid encodings + `Dense(num_classes)`.
    """

    def __init__(self, bert, head=None, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        config = bert.config
        head = head or config.classifier_head
        num_classes = num_classes or config.num_classes
        self.config = config.replace(classifier_head=head, num_classes=num_classes)
        self.pool = None
        with self.name_scope():
            self.encoder = bert.encoder
            if head == 'hidden':
                self.hidden = bert.hidden
            elif head == 'mlp':
                self.hidden = nn.Dense(config.classifier_hiddens, activation='relu',
                                       in_units=config.num_hiddens)
            elif head in POOLING_HEADS:
                self.pool = make_head(self.config)
            else:
                raise ValueError("classifier head must be one of hidden, mlp, %s, not %r"
                                 % (', '.join(POOLING_HEADS), head))
            units = self.hidden._units if self.pool is None else self.pool.units
            self.output = nn.Dense(num_classes, in_units=units)

    def new_blocks(self):
        """The blocks that are not part of the pretrained BERT, in the order
        they are initialized."""
        if self.pool is not None:
            return [self.output, self.pool]
        return [self.output, self.hidden] if self.config.classifier_head == 'mlp' \
            else [self.output]

    def hybrid_forward(self, F, tokens, segments, valid_lens, pack_idx=None, unpack_idx=None):
        F = legacy_ops(F)
        encoded_X = self.encoder(tokens, segments, valid_lens, pack_idx, unpack_idx)
        if self.pool is not None:
            return self.output(self.pool(encoded_X, valid_lens))
        return self.output(self.hidden(cls_encoding(F, encoded_X)))
