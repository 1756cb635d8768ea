"""Load BERT models of the GluonNLP model zoo (`bert_12_768_12`, `bert_24_1024_16`
with `book_corpus_wiki_en_uncased` and the other datasets GluonNLP lists).

GluonNLP's `BERTModel` is converted into gluon_bert's: its encoder (learnable
position table, LayerNorm after the embeddings, `transformer{i}` cells with separate
query/key/value projections fed to interleaved attention, `proj`, FFN with GELU and
its own LayerNorm), the pooler, the next-sentence classifier and the MLM decoder
(whose output weight is tied to the word embeddings) are mapped parameter by
parameter, and the `BERTVocab` becomes a `WordPieceTokenizer`.
"""
import mxnet as mx

from gluon_bert.model.config import BERTConfig
from gluon_bert.convert.params import pretrained_from_tensors
from gluon_bert.text.wordpiece import WordPieceTokenizer

__all__ = ['load_gluonnlp_bert', 'convert_gluonnlp_bert', 'gluonnlp_config']

_CELL_MAP = {
    'attention_cell.proj_query': 'attention.W_q',
    'attention_cell.proj_key': 'attention.W_k',
    'attention_cell.proj_value': 'attention.W_v',
    'proj': 'attention.W_o',
    'layer_norm': 'addnorm1.ln',
    'ffn.ffn_1': 'ffn.dense1',
    'ffn.ffn_2': 'ffn.dense2',
    'ffn.layer_norm': 'addnorm2.ln',
}
_MODULE_MAP = {
    'word_embed.0': 'encoder.token_embedding',
    'token_type_embed.0': 'encoder.segment_embedding',
    'encoder.layer_norm': 'encoder.embed_ln',
    'pooler': 'hidden',
    'classifier': 'nsp.output',
    'decoder.0': 'mlm.mlp.0',
    'decoder.2': 'mlm.mlp.1',
    'decoder.3': 'mlm.mlp.2',
}


def _activation_name(block, what):
    from gluonnlp.model.block import GELU
    if isinstance(block, GELU):
        if block._approximate:
            raise ValueError('%s: the tanh approximation of GELU is not supported' % what)
        return 'gelu'
    act = getattr(block, '_act_type', None)
    if act == 'relu':
        return 'relu'
    raise ValueError('%s: unsupported activation %r' % (what, block))


def gluonnlp_config(gnet):
    """BERTConfig of a GluonNLP BERTModel."""
    from gluonnlp.model.bert import BERTEncoder as GEncoder
    enc = gnet.encoder
    if not isinstance(enc, GEncoder):
        raise TypeError('not a GluonNLP BERT encoder: %r' % type(enc))
    if not getattr(gnet, '_use_token_type_embed', True):
        raise ValueError('GluonNLP models without token type embeddings (RoBERTa, DistilBERT) '
                         'are not supported')
    cells = list(enc.transformer_cells)
    if not cells:
        raise ValueError('the GluonNLP encoder has no layers')
    cell = cells[0]
    params = gnet._collect_params_with_prefix()
    vocab_size = params['word_embed.0.weight'].shape[0]
    return BERTConfig(
        vocab_size=vocab_size,
        num_hiddens=enc._units,
        ffn_num_hiddens=params['encoder.transformer_cells.0.ffn.ffn_1.weight'].shape[0],
        num_heads=cell.attention_cell._num_heads,
        num_blks=len(cells),
        dropout=float(enc._dropout),
        attention_dropout=float(enc._dropout),
        max_len=enc._max_length,
        activation=_activation_name(cell.ffn.activation, 'GluonNLP encoder FFN'),
        layer_norm_eps=float(enc._layer_norm_eps),
        embed_layer_norm=True,
        mlm_activation='gelu',
        type_vocab_size=params['token_type_embed.0.weight'].shape[0])


def _our_name(name):
    if name == 'encoder.position_weight':
        return 'encoder.pos_embedding'
    module, _, leaf = name.rpartition('.')
    prefix = 'encoder.transformer_cells.'
    if module.startswith(prefix):
        index, _, sub = module[len(prefix):].partition('.')
        if sub not in _CELL_MAP or not index.isdigit():
            return None
        ours = 'encoder.blks.%s.%s' % (index, _CELL_MAP[sub])
    else:
        ours = _MODULE_MAP.get(module)
        if ours is None:
            return None
    return '%s.%s' % (ours, leaf)


def convert_gluonnlp_bert(gnet, vocab, lower=True, ctx=None, source='gluonnlp', verbose=True):
    """A `Pretrained` holding gluon_bert's BERTModel with the parameters of the
    GluonNLP BERTModel `gnet` (initialized), and `vocab` (a BERTVocab) as a
    WordPieceTokenizer.  Heads `gnet` lacks (use_pooler/use_decoder/use_classifier
    False) are freshly initialized and listed in `initialized_heads`."""
    config = gluonnlp_config(gnet)
    tensors, origin, unmapped = {}, {}, []
    for name, param in gnet._collect_params_with_prefix().items():
        ours = _our_name(name)
        if ours is None:
            unmapped.append(name)
            continue
        tensors[ours] = param.data(param.list_ctx()[0]).asnumpy()
        origin[ours] = name
    if unmapped:
        raise ValueError('%s: %d parameter(s) map to no gluon_bert parameter: %s'
                         % (source, len(unmapped), ', '.join(sorted(unmapped))))
    return pretrained_from_tensors(config, tensors, WordPieceTokenizer(vocab, lower=lower),
                                   source, ctx, origin=origin, verbose=verbose)


def load_gluonnlp_bert(name, ctx=None, pretrained=True,
                       dataset_name='book_corpus_wiki_en_uncased', root=None, **kwargs):
    """Load the GluonNLP model-zoo BERT `name` (e.g. 'bert_12_768_12') trained on
    `dataset_name`, downloading its weights and vocabulary into GluonNLP's cache
    (`$MXNET_HOME/models`, or `root`) if they are not there.  `pretrained=False`
    gives randomly initialized weights (the vocabulary is still needed)."""
    import gluonnlp as nlp
    from gluonnlp.model.bert import bert_hparams
    ctx = ctx or mx.cpu()
    if name not in bert_hparams or name.startswith(('roberta', 'distilbert')):
        supported = sorted(k for k in bert_hparams if not k.startswith(('roberta', 'distilbert')))
        raise ValueError('unknown GluonNLP BERT model %r; choose one of %s'
                         % (name, ', '.join(supported)))
    if root is not None:
        kwargs['root'] = root
    try:
        gnet, vocab = nlp.model.get_model(name, dataset_name=dataset_name, pretrained=pretrained,
                                          ctx=ctx, use_pooler=True, use_decoder=True,
                                          use_classifier=True, **kwargs)
    except Exception as e:      # noqa: BLE001  (download errors come in many types)
        where = kwargs.get('root') or '$MXNET_HOME/models (default ~/.mxnet/models)'
        raise RuntimeError(
            'could not get the GluonNLP model %s (dataset %s): %s: %s\n'
            'The weights and vocabulary are downloaded on first use; without network access '
            'place them in %s, or convert a local checkpoint with --init hf:PATH.'
            % (name, dataset_name, type(e).__name__, e, where)) from e
    if not pretrained:
        gnet.initialize(mx.init.Normal(0.02), ctx=ctx)
    lower = 'uncased' in (dataset_name or '') or dataset_name == 'clinicalbert'
    return convert_gluonnlp_bert(gnet, vocab, lower=lower, ctx=ctx,
                                 source='gluonnlp:%s_%s' % (name, dataset_name))
