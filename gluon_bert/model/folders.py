"""Saving and loading models: a pretrained BERT folder (`model.params`,
`config.json`, `vocab.json`, `tokenizer.json`) and a fine-tuned classifier folder
(`classifier.params` instead of `model.params`).  Files are written to a temporary
name and renamed, so an interrupted save never leaves a half-written file."""
import os

import mxnet as mx

from gluon_bert.fileio import write_atomic
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.text import load_tokenizer

__all__ = ['Pretrained', 'save_pretrained', 'load_pretrained_folder', 'save_classifier',
           'load_classifier']

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


def save_pretrained(folder, bert, tokenizer):
    os.makedirs(folder, exist_ok=True)
    bert.config.save(os.path.join(folder, 'config.json'))
    tokenizer.save(folder)
    write_atomic(os.path.join(folder, MODEL_PARAMS), bert.save_parameters)


def _load_folder(folder, ctx):
    if not os.path.isdir(folder):
        raise FileNotFoundError('no such model folder: %s' % folder)
    config_path = os.path.join(folder, 'config.json')
    if not os.path.exists(config_path):
        raise FileNotFoundError('%s is not a gluon_bert model folder: %s is missing'
                                % (folder, config_path))
    return BERTConfig.load(config_path), load_tokenizer(folder)


def load_pretrained_folder(folder, ctx=None):
    """Load a pretrained BERT saved by `save_pretrained` into a `Pretrained`."""
    ctx = ctx or mx.cpu()
    folder = str(folder)
    config, tokenizer = _load_folder(folder, ctx)
    params = os.path.join(folder, MODEL_PARAMS)
    if not os.path.exists(params):
        if os.path.exists(os.path.join(folder, CLASSIFIER_PARAMS)):
            raise ValueError('%s holds a fine-tuned classifier, not a pretrained BERT; '
                             'use load_classifier' % folder)
        raise FileNotFoundError('%s is missing' % params)
    bert = BERTModel(config)
    bert.load_parameters(params, ctx=ctx)
    return Pretrained(bert, tokenizer, config, source=folder)


def save_classifier(folder, classifier, tokenizer):
    os.makedirs(folder, exist_ok=True)
    classifier.config.save(os.path.join(folder, 'config.json'))
    tokenizer.save(folder)
    write_atomic(os.path.join(folder, CLASSIFIER_PARAMS), classifier.save_parameters)


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
