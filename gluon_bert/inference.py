"""Using a fine-tuned classifier: evaluate it on a file, predict one pair."""
import os
import warnings

import numpy as np
import mxnet as mx

from gluon_bert.model.folders import load_classifier
from gluon_bert.evaluation import classification_report, format_report
from gluon_bert.fileio import write_json_atomic
from gluon_bert.data.batching import iterate_batches, nli_batch, split_and_load
from gluon_bert.data.snli import (LABEL_NAMES, SNLIBERTDataset, describe_reading, encode_pairs,
                                 read_snli_file)
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


def predict_pair(net, tokenizer, premise, hypothesis, max_len=128, ctx=None):
    """Label id and class probabilities of one (premise, hypothesis) pair.  A pair
    longer than `max_len` is truncated longest-first; returns also whether it was."""
    ctx = ctx or mx.cpu()
    p, h = tokenizer.tokenize(premise), tokenizer.tokenize(hypothesis)
    if not p or not h:
        raise ValueError('premise and hypothesis must both be non-empty')
    limit = getattr(getattr(net, 'config', None), 'max_len', None)
    if limit and max_len > limit:       # no position embeddings beyond the model's
        warnings.warn('max_len %d exceeds the %d positions of the model; using %d'
                      % (max_len, limit, limit))
        max_len = limit
    truncated = len(p) + len(h) + 3 > max_len
    tokens, segments, valid_lens = encode_pairs([premise], [hypothesis], max_len, tokenizer)
    n = int(valid_lens[0])
    logits = net(mx.nd.array(tokens[:, :n], ctx=ctx), mx.nd.array(segments[:, :n], ctx=ctx),
                 mx.nd.array(valid_lens, ctx=ctx))
    probs = mx.nd.softmax(logits).asnumpy()[0]
    return int(probs.argmax()), probs, truncated


def evaluate_file(model_dir, data_path, json_path=None, max_len=128, batch_size=512,
                  ctx='cpu', verbose=True, label_map='chapter'):
    """Evaluate the classifier in `model_dir` on the NLI file `data_path` (numeric
    labels read with `label_map`); print the table and write the report as
    JSON.  Returns the report dict."""
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    net.collect_params().reset_ctx(ctxs)
    data = read_snli_file(data_path, label_map)
    if verbose:
        print(describe_reading(data))
    if not data.labels:
        raise ValueError('nothing to evaluate: %s' % describe_reading(data))
    dataset = SNLIBERTDataset(data, max_len, tokenizer=tokenizer)
    logits = predict_logits(net, dataset, ctxs, batch_size)
    report = classification_report(dataset.labels, logits.argmax(axis=1), LABEL_NAMES)
    report.update(model=model_dir, data=data_path, skipped=dict(getattr(data, 'skipped', {})))
    if json_path is None:
        base = os.path.splitext(os.path.basename(data_path))[0]
        json_path = os.path.join(model_dir, 'eval_%s.json' % base)
    write_json_atomic(json_path, report)
    if verbose:
        print(format_report(report))
        print('report written to %s' % json_path)
    return report


def predict_text(model_dir, premise, hypothesis, max_len=128, ctx='cpu', verbose=True):
    """Label and the three class probabilities for one pair."""
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    label, probs, truncated = predict_pair(net, tokenizer, premise, hypothesis, max_len,
                                           ctxs[0])
    result = dict(label=LABEL_NAMES[label],
                  probabilities={n: float(p) for n, p in zip(LABEL_NAMES, probs)},
                  truncated=truncated)
    if verbose:
        if truncated:
            print('note: the pair is longer than max_len %d tokens; it was truncated '
                  'longest-first' % max_len)
        print(result['label'])
        for n in LABEL_NAMES:
            print('  %-13s %.4f' % (n, result['probabilities'][n]))
    return result
