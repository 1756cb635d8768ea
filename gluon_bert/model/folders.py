"""Saving and loading models: a pretrained BERT folder (`model.params`,
`config.json`, `vocab.json`, `tokenizer.json`) and a fine-tuned classifier folder
(`classifier.params` instead of `model.params`; a classifier of another task than
SNLI also has `task.json`: its class names in class-id order, its text and label
columns).  Files are written to a temporary name and renamed, so an interrupted
save never leaves a half-written file."""
import os

import mxnet as mx

from gluon_bert.fileio import WriteError, read_json, write_atomic, write_json_atomic
from gluon_bert.model.config import BERTConfig
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.text import load_tokenizer

__all__ = ['Pretrained', 'save_pretrained', 'load_pretrained_folder', 'save_classifier',
           'load_classifier', 'config_file', 'save_task', 'load_task']

MODEL_PARAMS = 'model.params'
CLASSIFIER_PARAMS = 'classifier.params'
TASK_FILE = 'task.json'


class Pretrained:
    """A pretrained BERT: `.bert` (a BERTModel), `.tokenizer` and `.config`."""

    def __init__(self, bert, tokenizer, config, source=''):
        self.bert, self.tokenizer, self.config, self.source = bert, tokenizer, config, source

    def __repr__(self):
        c = self.config
        return ('Pretrained(%s: %d layers, %d hidden, %d heads, vocab %d)'
                % (self.source, c.num_blks, c.num_hiddens, c.num_heads, c.vocab_size))


def config_file(folder, kind='gluon_bert'):
    """`folder/config.json` of a `kind` model folder (gluon_bert, Hugging Face);
    FileNotFoundError naming what is missing."""
    if not os.path.isdir(folder):
        raise FileNotFoundError('no such %s model folder: %s' % (kind, folder))
    path = os.path.join(folder, 'config.json')
    if not os.path.exists(path):
        raise FileNotFoundError('%s is not a %s model folder: %s is missing'
                                % (folder, kind, path))
    return path


# The first 8 bytes of an MXNet parameters file (NDArray list magic 0x112).
PARAMS_MAGIC = (0x112).to_bytes(8, 'little')


def save_params(net, path):
    """`net.save_parameters` into `path`, atomically; a failed write (a full
    disk, no permission) is a WriteError naming the file."""
    def write(tmp):
        try:
            net.save_parameters(tmp)
        except mx.base.MXNetError as e:
            lines = [l for l in str(e).splitlines() if l.strip()]
            raise WriteError(path, OSError(None, lines[-1] if lines else 'MXNet error'))
    write_atomic(path, write)


def load_params(net, path, ctx):
    """`net.load_parameters(path, ctx)`; a truncated or corrupted file, or one that
    is not an MXNet parameters file, is a ValueError that names it and says which."""
    try:
        net.load_parameters(path, ctx=ctx)
    except mx.base.MXNetError as e:
        if 'Invalid NDArray file format' not in str(e):
            raise
        with open(path, 'rb') as f:
            head = f.read(len(PARAMS_MAGIC))
        what = ('is truncated or corrupted (%d bytes; it starts as an MXNet parameters file '
                'but cannot be read to its end)' % os.path.getsize(path)
                if head == PARAMS_MAGIC else 'is not an MXNet parameters file')
        raise ValueError('%s %s: save it again (rerun the job that wrote it, with '
                         '--overwrite)' % (path, what)) from None


def _save_folder(folder, net, tokenizer, params_file):
    """`config.json`, the tokenizer's files and `params_file` of `net`."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise WriteError(folder, e) from None
    net.config.save(os.path.join(folder, 'config.json'))
    tokenizer.save(folder)
    save_params(net, os.path.join(folder, params_file))


def _load_folder(folder):
    return BERTConfig.load(config_file(folder)), load_tokenizer(folder)


def save_pretrained(folder, bert, tokenizer):
    """Save a BERTModel and its tokenizer as a pretrained BERT folder."""
    _save_folder(folder, bert, tokenizer, MODEL_PARAMS)


def load_pretrained_folder(folder, ctx=None):
    """Load a pretrained BERT saved by `save_pretrained` into a `Pretrained`."""
    folder = str(folder)
    config, tokenizer = _load_folder(folder)
    params = os.path.join(folder, MODEL_PARAMS)
    if not os.path.exists(params):
        if os.path.exists(os.path.join(folder, CLASSIFIER_PARAMS)):
            raise ValueError('%s holds a fine-tuned classifier, not a pretrained BERT; '
                             'use load_classifier' % folder)
        raise FileNotFoundError('%s is missing' % params)
    bert = BERTModel(config)
    load_params(bert, params, ctx or mx.cpu())
    return Pretrained(bert, tokenizer, config, source=folder)


def save_classifier(folder, classifier, tokenizer):
    """Save a fine-tuned BERTClassifier and its tokenizer as a classifier folder."""
    _save_folder(folder, classifier, tokenizer, CLASSIFIER_PARAMS)


def load_classifier(folder, ctx=None):
    """Load a fine-tuned BERTClassifier saved by `save_classifier`: returns
    `(classifier, tokenizer)`."""
    config, tokenizer = _load_folder(folder)
    params = os.path.join(folder, CLASSIFIER_PARAMS)
    if not os.path.exists(params):
        raise FileNotFoundError('%s is missing (is %s a fine-tuning output folder?)'
                                % (params, folder))
    classifier = BERTClassifier(BERTModel(config), head=config.classifier_head,
                                num_classes=config.num_classes)
    load_params(classifier, params, ctx or mx.cpu())
    return classifier, tokenizer


def save_task(folder, labels, text_columns, label_column):
    """Write `task.json`: the class names (class-id order) and the columns."""
    write_json_atomic(os.path.join(folder, TASK_FILE), dict(
        labels=list(labels), text_columns=list(text_columns), label_column=label_column))


def load_task(folder):
    """The `task.json` of a classifier folder as a dict, or None (an SNLI classifier)."""
    path = os.path.join(folder, TASK_FILE)
    if not os.path.exists(path):
        return None
    task = read_json(path)
    if not isinstance(task, dict) or not isinstance(task.get('labels'), list) or \
            not isinstance(task.get('text_columns'), list) or 'label_column' not in task:
        raise ValueError('%s: expected {"labels": [...], "text_columns": [...], '
                         '"label_column": ...}' % path)
    return task
