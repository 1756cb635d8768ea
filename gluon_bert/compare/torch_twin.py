"""A PyTorch twin of the Gluon model, for comparing the two frameworks.

The modules follow the chapter's PyTorch code (d2l's `torch` BERT):
`BERTEncoder` with `token_embedding`, `segment_embedding`, a learnable
`pos_embedding` parameter of shape (1, max_len, H) and `blks` of
`TransformerEncoderBlock`s (`MultiHeadAttention` with biased `W_q W_k W_v W_o`,
`AddNorm`, `PositionWiseFFN` with `dense1 dense2`); `MaskLM` (`mlp`: Linear,
activation, LayerNorm, Linear), `NextSentencePred` (`output`), `BERTModel` with
`hidden` (Linear + Tanh on `<cls>`), and `BERTClassifier` (`encoder`, `hidden`
and a new `output` Linear(H, 3)).  They take the same `BERTConfig` options as
`gluon_bert.model.bert` (GELU, embedding LayerNorm, LayerNorm epsilon, MaskLM
activation, attention dropout, the 'mlp' classifier head).

Attention keys at positions `>= valid_len` are masked with -1e6 before the
softmax, as the chapter's `masked_softmax`; this gives the same weights as
MXNet's `softmax(..., length=valid_lens)`.

`from_gluon(block)` builds the twin of a Gluon `BERTModel` or `BERTClassifier`
and copies every parameter into it; `copy_weights_from_gluon(twin, block)` /
`load_gluon_arrays(twin, arrays)` copy into an existing twin.  Gluon's structural
names map to PyTorch's as follows (MXNet's Dense weight is (out, in), as a
PyTorch Linear's, so no array is transposed):

    LayerNorm  gamma / beta          -> weight / bias
    hidden.{weight,bias}             -> hidden.0.{weight,bias}   (Sequential(Linear, Tanh))
    mlm.mlp.1 (LayerNorm)            -> mlm.mlp.2
    mlm.mlp.2 (Dense to the vocab)   -> mlm.mlp.3
    everything else                  -> the same name

Its training loop is `gluon_bert.compare.torch_train`.  The two modules are
the only ones of the package that import torch, and they import no MXNet: a
Gluon block is read through its own methods only.
"""
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gluon_bert.model.config import BERTConfig

__all__ = ['masked_softmax', 'DotProductAttention', 'MultiHeadAttention', 'PositionWiseFFN',
           'AddNorm', 'TransformerEncoderBlock', 'BERTEncoder', 'MaskLM', 'NextSentencePred',
           'BERTModel', 'BERTClassifier', 'build_like', 'from_gluon', 'gluon_arrays',
           'copy_weights_from_gluon', 'load_gluon_arrays', 'to_torch_name', 'torch_arrays']


def _activation(name):
    if name == 'gelu':
        return nn.GELU()            # erf form, as MXNet's LeakyReLU(act_type='gelu')
    if name == 'relu':
        return nn.ReLU()
    if name == 'tanh':
        return nn.Tanh()
    if name == 'sigmoid':
        return nn.Sigmoid()
    if name == 'softrelu':
        return nn.Softplus()
    raise ValueError('unknown activation %r' % name)


def masked_softmax(X, valid_lens):
    """Softmax over the last axis of X (B*h, Lq, Lk), keys at positions
    `>= valid_lens` (one length per row of axis 0) set to -1e6 first."""
    if valid_lens is None:
        return F.softmax(X, dim=-1)
    keys = torch.arange(X.shape[-1], device=X.device, dtype=torch.float32)
    mask = keys[None, None, :] < valid_lens.to(torch.float32).reshape(-1, 1, 1)
    return F.softmax(X.masked_fill(~mask, -1e6), dim=-1)


class DotProductAttention(nn.Module):
    """Scaled dot-product attention with masked softmax."""

    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class MultiHeadAttention(nn.Module):
    """Multi-head attention (the chapter's, with `bias=True` for BERT)."""

    def __init__(self, num_hiddens, num_heads, dropout, bias=True):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError('num_hiddens (%d) must be a multiple of num_heads (%d)'
                             % (num_hiddens, num_heads))
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_k = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_v = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def transpose_qkv(self, X):
        # (B, L, H) -> (B * heads, L, H / heads)
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1).permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X):
        # (B * heads, L, H / heads) -> (B, L, H)
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    def forward(self, queries, keys, values, valid_lens):
        queries = self.transpose_qkv(self.W_q(queries))
        keys = self.transpose_qkv(self.W_k(keys))
        values = self.transpose_qkv(self.W_v(values))
        if valid_lens is not None:
            valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
        output = self.attention(queries, keys, values, valid_lens)
        return self.W_o(self.transpose_output(output))


class PositionWiseFFN(nn.Module):
    """Two linear layers applied at every position."""

    def __init__(self, ffn_num_hiddens, num_hiddens, activation='relu'):
        super().__init__()
        self.dense1 = nn.Linear(num_hiddens, ffn_num_hiddens)
        self.act = _activation(activation)
        self.dense2 = nn.Linear(ffn_num_hiddens, num_hiddens)

    def forward(self, X):
        return self.dense2(self.act(self.dense1(X)))


class AddNorm(nn.Module):
    """Residual connection followed by layer normalization: LN(dropout(Y) + X)."""

    def __init__(self, num_hiddens, dropout, eps=1e-5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(num_hiddens, eps=eps)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class TransformerEncoderBlock(nn.Module):
    """Self-attention and position-wise FFN, each followed by AddNorm."""

    def __init__(self, config):
        super().__init__()
        c = config
        att_dropout = c.dropout if c.attention_dropout is None else c.attention_dropout
        self.attention = MultiHeadAttention(c.num_hiddens, c.num_heads, att_dropout, True)
        self.addnorm1 = AddNorm(c.num_hiddens, c.dropout, c.layer_norm_eps)
        self.ffn = PositionWiseFFN(c.ffn_num_hiddens, c.num_hiddens, c.activation)
        self.addnorm2 = AddNorm(c.num_hiddens, c.dropout, c.layer_norm_eps)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class BERTEncoder(nn.Module):
    """Token + segment + learnable positional embeddings, then `num_blks` blocks."""

    def __init__(self, config):
        super().__init__()
        c = config
        self.token_embedding = nn.Embedding(c.vocab_size, c.num_hiddens)
        self.segment_embedding = nn.Embedding(c.type_vocab_size, c.num_hiddens)
        self.blks = nn.Sequential()
        for i in range(c.num_blks):
            self.blks.add_module(str(i), TransformerEncoderBlock(c))
        # Learnable positional embeddings, long enough for max_len.
        self.pos_embedding = nn.Parameter(torch.randn(1, c.max_len, c.num_hiddens))
        if c.embed_layer_norm:
            self.embed_ln = nn.LayerNorm(c.num_hiddens, eps=c.layer_norm_eps)
            self.embed_dropout = nn.Dropout(c.dropout)
        else:
            self.embed_ln = None

    def forward(self, tokens, segments, valid_lens):
        X = self.token_embedding(tokens.long()) + self.segment_embedding(segments.long())
        X = X + self.pos_embedding[:, :X.shape[1], :]
        if self.embed_ln is not None:
            X = self.embed_dropout(self.embed_ln(X))
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X


class MaskLM(nn.Module):
    """Predict the tokens at `pred_positions`: Linear, activation, LayerNorm,
    Linear(vocab)."""

    def __init__(self, config):
        super().__init__()
        c = config
        self.mlp = nn.Sequential(nn.Linear(c.num_hiddens, c.num_hiddens),
                                 _activation(c.mlm_activation),
                                 nn.LayerNorm(c.num_hiddens, eps=c.layer_norm_eps),
                                 nn.Linear(c.num_hiddens, c.vocab_size))

    def forward(self, X, pred_positions):
        pred_positions = pred_positions.long()
        num_pred_positions = pred_positions.shape[1]
        batch_size = X.shape[0]
        batch_idx = torch.arange(batch_size, device=X.device)
        batch_idx = torch.repeat_interleave(batch_idx, num_pred_positions)
        masked_X = X[batch_idx, pred_positions.reshape(-1)]
        masked_X = masked_X.reshape(batch_size, num_pred_positions, -1)
        return self.mlp(masked_X)


class NextSentencePred(nn.Module):
    """Binary classifier: is the second sentence the next one?"""

    def __init__(self, num_hiddens):
        super().__init__()
        self.output = nn.Linear(num_hiddens, 2)

    def forward(self, X):
        return self.output(X)


class BERTModel(nn.Module):
    """Encoder + `hidden` (Linear + Tanh on `<cls>`) + MaskLM + NextSentencePred."""

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, BERTConfig):
            raise TypeError('BERTModel takes a BERTConfig')
        self.config = config
        self.encoder = BERTEncoder(config)
        self.hidden = nn.Sequential(nn.Linear(config.num_hiddens, config.num_hiddens),
                                    nn.Tanh())
        self.mlm = MaskLM(config)
        self.nsp = NextSentencePred(config.num_hiddens)

    def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
        encoded_X = self.encoder(tokens, segments, valid_lens)
        mlm_Y_hat = None if pred_positions is None else self.mlm(encoded_X, pred_positions)
        nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))
        return encoded_X, mlm_Y_hat, nsp_Y_hat


class BERTClassifier(nn.Module):
    """The pretrained encoder and `hidden`, and a new `output` Linear(H, 3).

    `head='mlp'` is the earlier MXNet form, as in gluon_bert: `hidden` is
    Linear(H, classifier_hiddens) + ReLU instead of the pretrained tanh layer.
    `forward` takes `(tokens, segments, valid_lens)` or, as the chapter, one tuple."""

    def __init__(self, bert, head=None, num_classes=None):
        super().__init__()
        config = bert.config
        head = head or config.classifier_head
        num_classes = num_classes or config.num_classes
        self.config = config.replace(classifier_head=head, num_classes=num_classes)
        self.encoder = bert.encoder
        if head == 'hidden':
            self.hidden = bert.hidden
            hidden_units = config.num_hiddens
        elif head == 'mlp':
            hidden_units = config.classifier_hiddens
            self.hidden = nn.Sequential(nn.Linear(config.num_hiddens, hidden_units), nn.ReLU())
        else:
            raise ValueError("classifier head must be 'hidden' or 'mlp', not %r" % head)
        self.output = nn.Linear(hidden_units, num_classes)

    def forward(self, tokens, segments=None, valid_lens=None):
        if segments is None:
            tokens, segments, valid_lens = tokens
        encoded_X = self.encoder(tokens, segments, valid_lens)
        return self.output(self.hidden(encoded_X[:, 0, :]))


# ---------------------------------------------------------------------------
# Weights from Gluon


def to_torch_name(gluon_name):
    """The twin's parameter name of a gluon_bert structural parameter name."""
    name = gluon_name
    if name.startswith('hidden.'):
        name = 'hidden.0.' + name[len('hidden.'):]
    elif name.startswith('mlm.mlp.1.'):
        name = 'mlm.mlp.2.' + name[len('mlm.mlp.1.'):]
    elif name.startswith('mlm.mlp.2.'):
        name = 'mlm.mlp.3.' + name[len('mlm.mlp.2.'):]
    if name.endswith('.gamma'):
        name = name[:-len('gamma')] + 'weight'
    elif name.endswith('.beta'):
        name = name[:-len('beta')] + 'bias'
    return name


def _is_classifier(gluon_block):
    return hasattr(gluon_block, 'output') and not hasattr(gluon_block, 'mlm')


def build_like(gluon_block, config=None):
    """An (uninitialised) twin of the Gluon `BERTModel` or `BERTClassifier`."""
    config = config or gluon_block.config
    if _is_classifier(gluon_block):
        return BERTClassifier(BERTModel(config), head=config.classifier_head,
                              num_classes=config.num_classes)
    return BERTModel(config)


def gluon_arrays(gluon_block):
    """{structural name: float32 numpy array} of every parameter of a Gluon block."""
    return {name: param.data().asnumpy().astype(np.float32, copy=False)
            for name, param in gluon_block._collect_params_with_prefix().items()}


def load_gluon_arrays(torch_model, arrays):
    """Copy `arrays` ({gluon structural name: array}) into `torch_model`.

    Every Gluon name must map to a twin parameter of the same shape and every
    twin parameter must receive a value; otherwise a ValueError names the
    parameters left over on either side."""
    params = dict(torch_model.named_parameters())
    unmapped, mismatched, assigned = [], [], set()
    for gname in sorted(arrays):
        tname = to_torch_name(gname)
        if tname not in params:
            unmapped.append('%s (-> %s)' % (gname, tname))
            continue
        value = np.asarray(arrays[gname], dtype=np.float32)
        if tuple(value.shape) != tuple(params[tname].shape):
            mismatched.append('%s %s vs %s %s' % (gname, value.shape, tname,
                                                  tuple(params[tname].shape)))
            continue
        assigned.add(tname)
    missing = sorted(set(params) - assigned)
    if unmapped or mismatched or missing:
        parts = []
        if unmapped:
            parts.append('Gluon parameters with no twin: ' + ', '.join(unmapped))
        if mismatched:
            parts.append('shapes differ: ' + ', '.join(mismatched))
        if missing:
            parts.append('twin parameters given no value: ' + ', '.join(missing))
        raise ValueError('cannot copy the Gluon weights: ' + '; '.join(parts))
    with torch.no_grad():
        for gname, value in arrays.items():
            p = params[to_torch_name(gname)]
            p.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))
    return torch_model


def copy_weights_from_gluon(torch_model, gluon_model):
    """Copy every parameter of the Gluon `gluon_model` into its twin `torch_model`."""
    return load_gluon_arrays(torch_model, gluon_arrays(gluon_model))


def from_gluon(gluon_block, config=None):
    """The twin of a Gluon `BERTModel` or `BERTClassifier`, with its weights."""
    twin = build_like(gluon_block, config)
    copy_weights_from_gluon(twin, gluon_block)
    return twin


def torch_arrays(torch_model, gluon_names):
    """{gluon name: numpy array} of the twin's parameters (to compare with Gluon's)."""
    params = dict(torch_model.named_parameters())
    return {g: params[to_torch_name(g)].detach().cpu().numpy() for g in gluon_names}
