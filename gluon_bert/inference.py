"""Using a fine-tuned classifier: evaluate it on a file, predict one pair (or one
sentence).  A folder with `task.json` (`gluon-bert finetune-task`) brings its
class names and columns; one without is an SNLI classifier."""
import json
import os
import warnings

import numpy as np
import mxnet as mx

from gluon_bert.model.folders import load_classifier, load_task
from gluon_bert.evaluation import classification_report, format_report
from gluon_bert.fileio import write_json_atomic
from gluon_bert.data.batching import iterate_batches, nli_batch, split_and_load
from gluon_bert.data.snli import (LABEL_NAMES, SNLIBERTDataset, describe_reading, encode_pairs,
                                 read_snli_file)
from gluon_bert.data.tasks import read_task_file
from gluon_bert.system import parse_contexts

__all__ = ['predict_logits', 'evaluate_accuracy', 'predict_pair', 'evaluate_file',
           'predict_text']


def predict_logits(net, dataset, ctxs, batch_size=512):
    """Logits (N, num_classes) of every example of `dataset`, in order."""
    out = []
    for idx in iterate_batches(len(dataset), batch_size, False):
        t, s, v, _ = nli_batch(dataset, idx)
        shards = split_and_load((t, s, v), ctxs)
        out.extend(net(*shard).as_in_context(mx.cpu()) for shard in shards)
    return mx.nd.concat(*out, dim=0).asnumpy() if out else np.zeros((0, 3), np.float32)


def evaluate_accuracy(net, dataset, ctxs, batch_size=512):
    """Fraction of `dataset` classified correctly (over exactly its examples)."""
    if len(dataset) == 0:
        return float('nan')
    logits = predict_logits(net, dataset, ctxs, batch_size)
    return float((logits.argmax(axis=1) == dataset.labels).mean())


def predict_pair(net, tokenizer, premise, hypothesis, max_len=128, ctx=None,
                 truncation='longest-first'):
    """Label id and class probabilities of one (premise, hypothesis) pair, or of
    one sentence (`hypothesis` None).  A pair longer than `max_len` is truncated
    (`truncation`, see `encode_pairs`); returns also whether it was."""
    ctx = ctx or mx.cpu()
    p = tokenizer.tokenize(premise)
    h = None if hypothesis is None else tokenizer.tokenize(hypothesis)
    if not p or h is not None and not h:
        raise ValueError('premise and hypothesis must both be non-empty' if h is not None
                         else 'the sentence is empty')
    limit = getattr(getattr(net, 'config', None), 'max_len', None)
    if limit and max_len > limit:       # no position embeddings beyond the model's
        warnings.warn('max_len %d exceeds the %d positions of the model; using %d'
                      % (max_len, limit, limit))
        max_len = limit
    truncated = len(p) + (2 if h is None else len(h) + 3) > max_len
    tokens, segments, valid_lens = encode_pairs(
        [premise], None if h is None else [hypothesis], max_len, tokenizer, truncation)
    n = int(valid_lens[0])
    logits = net(mx.nd.array(tokens[:, :n], ctx=ctx), mx.nd.array(segments[:, :n], ctx=ctx),
                 mx.nd.array(valid_lens, ctx=ctx))
    probs = mx.nd.softmax(logits).asnumpy()[0]
    return int(probs.argmax()), probs, truncated


def label_names(model_dir):
    """The class names of the classifier in `model_dir`, in class-id order."""
    task = load_task(model_dir)
    return LABEL_NAMES if task is None else task['labels']


def folder_truncation(model_dir):
    """The pair truncation the classifier in `model_dir` was trained with."""
    path = os.path.join(model_dir, 'args.json')
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f).get('args', {}).get('truncation', 'longest-first')
    return 'longest-first'


def evaluate_file(model_dir, data_path, json_path=None, max_len=128, batch_size=512,
                  ctx='cpu', verbose=True, label_map='chapter'):
    """Evaluate the classifier in `model_dir` on the file `data_path` (an NLI
    file, numeric labels read with `label_map`, or for a folder with
    `task.json` a file with its columns); print the table and write the report
    as JSON.  Returns the report dict."""
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    net.collect_params().reset_ctx(ctxs)
    task = load_task(model_dir)
    if task is None:
        data = read_snli_file(data_path, label_map)
    else:
        data = read_task_file(data_path, task['text_columns'], task['label_column'],
                              task['labels'])
    if verbose:
        print(describe_reading(data))
    if not data.labels:
        raise ValueError('nothing to evaluate: %s' % describe_reading(data))
    names = label_names(model_dir)
    dataset = SNLIBERTDataset(data, max_len, tokenizer=tokenizer,
                              truncation=folder_truncation(model_dir))
    logits = predict_logits(net, dataset, ctxs, batch_size)
    report = classification_report(dataset.labels, logits.argmax(axis=1), names)
    report.update(model=model_dir, data=data_path, skipped=dict(getattr(data, 'skipped', {})))
    if json_path is None:
        base = os.path.splitext(os.path.basename(data_path))[0]
        json_path = os.path.join(model_dir, 'eval_%s.json' % base)
    write_json_atomic(json_path, report)
    if verbose:
        print(format_report(report))
        print('report written to %s' % json_path)
    return report


def predict_text(model_dir, premise, hypothesis=None, max_len=128, ctx='cpu', verbose=True):
    """Label and the class probabilities for one pair (or one sentence, for a
    classifier of single sentences)."""
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    task, names = load_task(model_dir), label_names(model_dir)
    pairs = task is None or len(task['text_columns']) == 2
    if pairs and hypothesis is None:
        raise ValueError('%s classifies sentence pairs: give two texts' % model_dir)
    if not pairs and hypothesis is not None:
        raise ValueError('%s classifies single sentences (column %s): give one text'
                         % (model_dir, task['text_columns'][0]))
    truncation = folder_truncation(model_dir)
    label, probs, truncated = predict_pair(net, tokenizer, premise, hypothesis, max_len,
                                           ctxs[0], truncation)
    result = dict(label=names[label],
                  probabilities={n: float(p) for n, p in zip(names, probs)},
                  truncated=truncated)
    if verbose:
        if truncated:
            print('note: the %s is longer than max_len %d tokens; it was truncated%s'
                  % ('pair' if pairs else 'sentence', max_len,
                     ' (%s)' % truncation if pairs else ''))
        print(result['label'])
        for n in names:
            print('  %-13s %.4f' % (n, result['probabilities'][n]))
    return result
