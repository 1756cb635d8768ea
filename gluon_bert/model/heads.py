"""Classifier heads on the encodings of all the valid tokens (not only `<cls>`).

Each head is a HybridBlock `head(X, valid_lens) -> (B, units)`: `X` the encoder's
output (B, L, H), `valid_lens` (B,) the number of real tokens of each example.
`BERTClassifier` puts it under the name `pool` with a `Dense(num_classes)`
`output` after it (parameter names `pool.*`, `output.*`).  Every head is
masked: positions at or after `valid_len` never reach the output, so the same
example padded to two lengths gives the same logits.

* `mean`: the mean of the valid encodings, then a tanh Dense layer of
  `config.classifier_hiddens` units (as BERT's pooler on `<cls>`).
* `cnn`: 1-D convolutions of odd widths `config.classifier_kernel_sizes` with
  `config.classifier_hiddens` ReLU filters each ("same" zero padding, the padded
  encodings zeroed first), max-pooled over the valid positions, concatenated.
* `bilstm`: a bidirectional LSTM of `config.classifier_hiddens // 2` units per
  direction (`gluon.rnn.LSTM`), then the maximum over the valid positions.  The
  backward direction reads each example from its last valid token: MXNet's CPU
  RNN kernel ignores `sequence_length`, so it runs as a second LSTM over the
  sequences reversed within their valid lengths (`SequenceReverse`).
* `attention`: attention pooling, `softmax_t(q . tanh(W x_t))` over the valid
  positions for `config.num_heads` learned queries `q`, the weighted sums of the
  encodings concatenated, then a tanh Dense layer as `mean`'s.
"""
from mxnet import init
from mxnet.gluon import nn, rnn

__all__ = ['POOLING_HEADS', 'make_head', 'valid_mask', 'MeanPoolHead', 'CNNHead',
           'BiLSTMHead', 'AttentionPoolHead']


def valid_mask(F, X, valid_lens):
    """(B, L) float mask of the valid positions of `X` (B, L, H)."""
    positions = F.contrib.arange_like(X, axis=1)                       # (L,)
    return F.broadcast_lesser(positions.reshape((1, -1)), valid_lens.reshape((-1, 1)))


def _masked_mean(F, X, mask):
    """Mean over the positions where `mask` (B, L) is 1: (B, L, H) -> (B, H)."""
    total = F.batch_dot(mask.expand_dims(1), X).reshape((0, -1))        # (B, H)
    return F.broadcast_div(total, F.maximum(mask.sum(axis=1, keepdims=True), 1))


def _pooler(config):
    """The tanh Dense layer after a linear pooling (as BERT's on `<cls>`): the
    output layer then sees a non-linear function of the pooled encodings."""
    return nn.Dense(config.classifier_hiddens, activation='tanh', in_units=config.num_hiddens)


def _masked_max(F, X, mask):
    """Maximum over the positions where `mask` (B, L) is 1: (B, L, H) -> (B, H);
    the others are pushed 1e4 down (the features here are bounded by 1e4)."""
    return F.broadcast_add(X, ((mask - 1) * 1e4).expand_dims(2)).max(axis=1)


class MeanPoolHead(nn.HybridBlock):
    """The mean of the valid encodings, then a tanh Dense layer."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.units = config.classifier_hiddens
        with self.name_scope():
            self.dense = _pooler(config)

    def hybrid_forward(self, F, X, valid_lens):
        return self.dense(_masked_mean(F, X, valid_mask(F, X, valid_lens)))


class CNNHead(nn.HybridBlock):
    """1-D convolutions over the valid positions, each max-pooled, concatenated."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        sizes = [int(k) for k in config.classifier_kernel_sizes]
        if not sizes or any(k < 1 or k % 2 == 0 for k in sizes):
            raise ValueError('classifier_kernel_sizes must be odd positive widths, got %s'
                             % (config.classifier_kernel_sizes,))
        channels = config.classifier_hiddens
        self.units = channels * len(sizes)
        with self.name_scope():
            self.convs = nn.HybridSequential()
            for k in sizes:
                self.convs.add(nn.Conv1D(channels, k, padding=k // 2, activation='relu',
                                         in_channels=config.num_hiddens))

    def hybrid_forward(self, F, X, valid_lens):
        mask = valid_mask(F, X, valid_lens)                                # (B, L)
        X = F.broadcast_mul(X, mask.expand_dims(2)).transpose((0, 2, 1))   # (B, H, L)
        # Padding positions at -1e4 lose the max to any valid one (ReLU >= 0).
        penalty = ((mask - 1) * 1e4).expand_dims(1)                        # (B, 1, L)
        pooled = [F.broadcast_add(conv(X), penalty).max(axis=2) for conv in self.convs]
        return F.concat(*pooled, dim=1)


class BiLSTMHead(nn.HybridBlock):
    """A bidirectional LSTM over the valid positions, then their maximum."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        hidden = max(1, config.classifier_hiddens // 2)
        self.units = 2 * hidden
        with self.name_scope():
            self.forward_lstm = rnn.LSTM(hidden, layout='TNC', input_size=config.num_hiddens)
            self.backward_lstm = rnn.LSTM(hidden, layout='TNC', input_size=config.num_hiddens)

    def hybrid_forward(self, F, X, valid_lens):
        mask = valid_mask(F, X, valid_lens)
        seq = X.transpose((1, 0, 2))                                        # (L, B, H)
        forward = self.forward_lstm(seq)
        reverse = dict(sequence_length=valid_lens, use_sequence_length=True)
        backward = F.SequenceReverse(
            self.backward_lstm(F.SequenceReverse(seq, **reverse)), **reverse)
        out = F.concat(forward, backward, dim=2).transpose((1, 0, 2))      # (B, L, 2h)
        return _masked_max(F, out, mask)


class AttentionPoolHead(nn.HybridBlock):
    """Attention pooling with learned queries (one per attention head of the
    encoder), masked to the valid positions, then a tanh Dense layer."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        h, self.num_queries = config.num_hiddens, config.num_heads
        self.units = config.classifier_hiddens
        with self.name_scope():
            self.proj = nn.Dense(h, activation='tanh', flatten=False, in_units=h)
            self.query = self.params.get('query', shape=(self.num_queries, h),
                                         init=init.Normal(0.02))
            self.dense = nn.Dense(config.classifier_hiddens, activation='tanh',
                                  in_units=self.num_queries * h)

    def hybrid_forward(self, F, X, valid_lens, query):
        scores = F.FullyConnected(self.proj(X), query, no_bias=True, flatten=False,
                                  num_hidden=self.num_queries).transpose((0, 2, 1))  # (B, Q, L)
        lens = F.broadcast_like(valid_lens.astype('int32').expand_dims(1), scores,
                                lhs_axes=(1,), rhs_axes=(1,))                   # (B, Q)
        weights = F.softmax(scores, length=lens, use_length=True, axis=-1)
        return self.dense(F.batch_dot(weights, X).reshape((0, -1)))             # (B, Q * H)


POOLING_HEADS = {'mean': MeanPoolHead, 'cnn': CNNHead, 'bilstm': BiLSTMHead,
                 'attention': AttentionPoolHead}


def make_head(config):
    """The pooling head `config.classifier_head` (one of POOLING_HEADS)."""
    try:
        return POOLING_HEADS[config.classifier_head](config)
    except KeyError:
        raise ValueError('unknown pooling head %r; choose one of %s'
                         % (config.classifier_head, ', '.join(POOLING_HEADS))) from None
