"""Using a fine-tuned classifier: evaluate it on a file, predict one pair (or one
sentence), or every pair of a file.  A folder with `task.json` (`gluon-bert
finetune-task`) brings its class names and columns; one without is an SNLI
classifier."""
import json
import os
import sys
import warnings

import numpy as np
import mxnet as mx

from gluon_bert.model.folders import load_classifier, load_task
from gluon_bert.evaluation import classification_report, format_report
from gluon_bert.fileio import read_json, write_json_atomic, write_text_atomic
from gluon_bert.data.batching import iterate_batches, nli_batch, split_and_load
from gluon_bert.data.pairs import read_pairs
from gluon_bert.data.snli import (LABEL_NAMES, SNLIBERTDataset, describe_reading, encode_pairs,
                                  read_snli_file)
from gluon_bert.data.tasks import read_task_file
from gluon_bert.system import parse_contexts

__all__ = ['predict_logits', 'evaluate_accuracy', 'predict_pair', 'evaluate_file',
           'predict_text', 'predict_file', 'model_max_len']


def predict_logits(net, dataset, ctxs, batch_size=512, progress=None):
    """Logits (N, num_classes) of every example of `dataset`, in order.
    `progress`: a tqdm-like bar, advanced by each batch's examples."""
    out = []
    for idx in iterate_batches(len(dataset), batch_size, False):
        t, s, v, _ = nli_batch(dataset, idx)
        shards = split_and_load((t, s, v), ctxs)
        out.extend(net(*shard).as_in_context(mx.cpu()) for shard in shards)
        if progress is not None:
            progress.update(len(idx))
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


def _training_option(model_dir, name, default=None):
    """The option `name` of the run that wrote `model_dir` (its `args.json`, see
    `train.options.save_args`), or `default`."""
    path = os.path.join(model_dir, 'args.json')
    if not os.path.exists(path):
        return default
    return read_json(path).get('args', {}).get(name) or default


def folder_truncation(model_dir):
    """The pair truncation the classifier in `model_dir` was trained with."""
    return _training_option(model_dir, 'truncation', 'longest-first')


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


def model_max_len(model_dir, net):
    """The max_len a classifier folder was fine-tuned with (its `args.json`), else
    the number of positions of the model."""
    max_len = _training_option(model_dir, 'max_len')
    return min(int(max_len), net.config.max_len) if max_len else net.config.max_len


def predict_text(model_dir, premise, hypothesis=None, max_len=None, ctx='cpu', verbose=True):
    """Label and the class probabilities for one pair (or one sentence, for a
    classifier of single sentences).  `max_len` None: the max_len of the
    fine-tuning (see `model_max_len`)."""
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    max_len = max_len or model_max_len(model_dir, net)
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
    result = _result(probs, truncated, names)
    if verbose:
        if truncated:
            print('note: the %s is longer than max_len %d tokens; it was truncated%s'
                  % ('pair' if pairs else 'sentence', max_len,
                     ' (%s)' % truncation if pairs else ''))
        print(result['label'])
        for n in names:
            print('  %-13s %.4f' % (n, result['probabilities'][n]))
    return result


def _result(probs, truncated, names, line=None):
    result = dict(label=names[int(probs.argmax())],
                  probabilities={n: float(p) for n, p in zip(names, probs)},
                  truncated=bool(truncated))
    if line is not None:
        result['line'] = line
    return result


def predict_file(model_dir, path, output=None, batch_size=256, max_len=None, ctx='cpu',
                 progress=True):
    """Classify every pair of the NLI file `path` (any format of `read_snli_file`;
    no label needed) in batches, with a progress bar on stderr.  Writes one JSON
    line per pair (`label`, `probabilities` by label name, `truncated`: whether
    the pair was longer than `max_len` tokens and cut (the folder's truncation), and `line`,
    its line in `path`) to `output` (atomically) or, when None, to stdout.
    `max_len` None: the max_len of the fine-tuning.  Returns the results."""
    from tqdm import tqdm
    task = load_task(model_dir)
    if task is not None and len(task['text_columns']) != 2:
        raise ValueError('%s classifies single sentences: --file predicts sentence-pair '
                         'classifiers only; use evaluate for a labelled file' % model_dir)
    pairs = read_pairs(path)                    # a bad file fails before the model loads
    ctxs = parse_contexts(ctx)
    net, tokenizer = load_classifier(model_dir, ctx=ctxs[0])
    names, truncation = label_names(model_dir), folder_truncation(model_dir)
    net.collect_params().reset_ctx(ctxs)
    net.hybridize(static_alloc=True)
    limit = model_max_len(model_dir, net)
    if max_len is None:
        max_len = limit
    elif max_len > net.config.max_len:
        raise ValueError('--max-len %d exceeds the %d positions of the model in %s'
                         % (max_len, net.config.max_len, model_dir))
    n = len(pairs.premises)
    dataset = SNLIBERTDataset((pairs.premises, pairs.hypotheses, np.zeros(n, np.int32)),
                              max_len, tokenizer=tokenizer, num_workers=1,
                              truncation=truncation)
    truncated = [len(tokenizer.tokenize(p)) + len(tokenizer.tokenize(h)) + 3 > max_len
                 for p, h in zip(pairs.premises, pairs.hypotheses)]
    with tqdm(total=n, desc='predict', unit='pair', file=sys.stderr,
              disable=not progress) as bar:
        logits = predict_logits(net, dataset, ctxs, batch_size, progress=bar)
    probs = mx.nd.softmax(mx.nd.array(logits)).asnumpy()
    results = [_result(probs[i], truncated[i], names, pairs.line_numbers[i])
               for i in range(n)]
    text = ''.join(json.dumps(r) + '\n' for r in results)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_text_atomic(output, text)
    return results
