"""Setting a BERTModel's parameters from a converted checkpoint's tensors, with
the checks every import shares (names, shapes, dtypes, incomplete heads)."""
import warnings

import numpy as np
import mxnet as mx

from gluon_bert.model.bert import BERTModel
from gluon_bert.model.folders import Pretrained

__all__ = ['HEAD_PREFIXES', 'assign_parameters', 'pretrained_from_tensors']

HEAD_PREFIXES = {'hidden': 'hidden.', 'mlm': 'mlm.', 'nsp': 'nsp.'}


def assign_parameters(bert, tensors, source='checkpoint', origin=None, tied_decoder=True,
                      verbose=True, describe=None):
    """Set the parameters of an initialized BERTModel from `tensors` (our parameter
    name -> numpy array).  Returns the heads ('hidden', 'mlm', 'nsp') that were
    missing and keep their fresh initialization.

    Shapes must match exactly; a missing encoder tensor, or a head with only part
    of its tensors, is an error.  With `tied_decoder`, a missing MLM decoder weight
    is the token embedding matrix.  `describe(name)` names a missing parameter in
    the error messages (e.g. by the checkpoint's tensor name)."""
    origin = origin or {}
    describe = describe or (lambda name: name)
    params = bert._collect_params_with_prefix()
    unknown = sorted(set(tensors) - set(params))
    if unknown:
        raise ValueError('%s: no such gluon_bert parameter(s): %s'
                         % (source, ', '.join(origin.get(k, k) for k in unknown)))
    tensors = dict(tensors)
    if tied_decoder and 'mlm.mlp.2.weight' not in tensors and \
            'encoder.token_embedding.weight' in tensors:
        tensors['mlm.mlp.2.weight'] = tensors['encoder.token_embedding.weight']
    missing = [k for k in params if k not in tensors]
    initialized = []
    for head, prefix in HEAD_PREFIXES.items():
        head_names = [k for k in params if k.startswith(prefix)]
        head_missing = [k for k in head_names if k not in tensors]
        if not head_missing:
            continue
        given = [k for k in head_names if k in tensors and
                 not (head == 'mlm' and k == 'mlm.mlp.2.weight' and tied_decoder)]
        if given:
            raise ValueError('%s: the %s head is incomplete, missing %s'
                             % (source, head, ', '.join(map(describe, head_missing))))
        initialized.append(head)
    missing = [k for k in missing if not any(k.startswith(HEAD_PREFIXES[h]) for h in initialized)]
    if missing:
        raise ValueError('%s: missing %d encoder tensor(s): %s'
                         % (source, len(missing), ', '.join(map(describe, missing))))
    for name, value in tensors.items():
        param = params[name]
        expected = tuple(param.shape)
        if name == 'encoder.pos_embedding' and value.ndim == 2:
            expected = expected[1:]         # a (positions, hidden) table
        if tuple(value.shape) != expected:
            raise ValueError('%s: tensor %s: expected shape %s, found %s'
                             % (source, origin.get(name, name), expected, tuple(value.shape)))
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError('%s: tensor %s has dtype %s, expected floating point'
                             % (source, origin.get(name, name), value.dtype))
        param.set_data(mx.nd.array(value.reshape(param.shape), dtype=param.dtype))
    if 'hidden' in initialized:
        warnings.warn('%s has no pooler weights: the pooler (`hidden`) is freshly initialized'
                      % source)
    heads = [h for h in initialized if h != 'hidden']
    if heads and verbose:
        print('%s: no %s head weights (an encoder-only checkpoint); they are freshly '
              'initialized' % (source, ' and '.join(h.upper() for h in heads)), flush=True)
    return initialized


def pretrained_from_tensors(config, tensors, tokenizer, source, ctx=None, name=None,
                            **assign_kwargs):
    """A `Pretrained` holding a new BERTModel of `config` whose parameters are
    `tensors` (`assign_parameters(..., **assign_kwargs)`); the heads the tensors
    lack keep a fresh initialization and are listed in `initialized_heads`.
    `source` names the checkpoint in errors; `name` is the Pretrained's source
    (default: `source`)."""
    bert = BERTModel(config)
    bert.initialize(mx.init.Normal(0.02), ctx=ctx or mx.cpu())
    initialized = assign_parameters(bert, tensors, source, **assign_kwargs)
    pre = Pretrained(bert, tokenizer, config, source=name or source)
    pre.initialized_heads = initialized
    return pre
