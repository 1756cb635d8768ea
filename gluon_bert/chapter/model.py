"""The chapter's `d2l.BERTModel`: gluon_bert's BERT, made from the chapter's
arguments."""
import mxnet as mx
from mxnet import init as initializer

from gluon_bert.model import bert
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.npmode import legacy_ops

__all__ = ['BERTModel']


class BERTModel(bert.BERTModel):
    """`BERTModel(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
    num_layers, dropout, max_len=1000)`: gluon_bert's `BERTModel` of that size
    (`config` holds it).  `net(tokens, segments, valid_lens=None,
    pred_positions=None)` returns `(encoded_X, mlm_Y_hat, nsp_Y_hat)`;
    `mlm_Y_hat` is None without `pred_positions`, and without `valid_lens` every
    position is valid.  Under `npx.set_np()` it takes and returns `mx.np`
    arrays."""

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers,
                 dropout, max_len=1000, **kwargs):
        super().__init__(BERTConfig(vocab_size=vocab_size, num_hiddens=num_hiddens,
                                    ffn_num_hiddens=ffn_num_hiddens, num_heads=num_heads,
                                    num_blks=num_layers, dropout=dropout, max_len=max_len),
                         **kwargs)

    def initialize(self, init=initializer.Uniform(), ctx=None, verbose=False,
                   force_reinit=False):
        """Initialize the parameters on `ctx` (a device or a list, default the
        CPU) and choose the LayerNorm computation for those devices."""
        super().initialize(init, ctx, verbose, force_reinit)
        ctxs = [ctx] if ctx is not None and not isinstance(ctx, (list, tuple)) else ctx
        bert.select_layer_norm(self, ctxs or [mx.context.current_context()])

    def hybrid_forward(self, F, tokens, segments, valid_lens=None, pred_positions=None):
        if valid_lens is None:
            ops = legacy_ops(F)
            valid_lens = ops.sum(ops.ones_like(tokens), axis=1)
        return super().hybrid_forward(F, tokens, segments, valid_lens, pred_positions)
