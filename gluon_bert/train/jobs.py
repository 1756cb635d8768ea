"""The two jobs of the chapter, end to end: pretrain BERT on WikiText-2 (or the
synthetic corpus), then fine-tune it on SNLI (or the synthetic NLI task).  Each
takes its run options whole (`PretrainArgs`, `FinetuneArgs`), as the scripts
parse them, and writes its output folder: the model, `args.json`, metrics and
curves."""
import os
import random
import tempfile
import time

import numpy as np
import mxnet as mx
from mxnet import init

from gluon_bert.data import snli
from gluon_bert.data.download import get_dataset_dir
from gluon_bert.data.synthetic import nli_task, write_wikitext
from gluon_bert.data.wikitext import VALID_FILE, WikiTextDataset, read_wiki
from gluon_bert.fileio import write_json_atomic
from gluon_bert.model import folders
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.model.config import get_config
from gluon_bert.outputs import BEST_FOLDER, claim_output
from gluon_bert.pretrained import load_pretrained
from gluon_bert.train import checkpoint as _ckpt
from gluon_bert.train.devices import parse_contexts, setup_kvstore, init_amp
from gluon_bert.train.finetune import finetune
from gluon_bert.train.logs import plot_curves
from gluon_bert.train.options import ARGS_FILE, computation_fields, save_args
from gluon_bert.train.pretrain import pretrain

__all__ = ['run_pretraining', 'run_finetuning', 'finetune_classifier', 'load_nli_data',
           'load_pretraining_paragraphs']


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def load_pretraining_paragraphs(args):
    """Paragraphs (lists of sentences) of WikiText-2 or of the synthetic corpus:
    (training, validation); the validation paragraphs come from the corpus'
    `wiki.valid.tokens` (None when it has none)."""
    def read(folder):
        valid = os.path.join(folder, VALID_FILE)
        return (read_wiki(folder, seed=args.seed),
                read_wiki(valid, seed=args.seed) if os.path.isfile(valid) else None)
    if args.dataset == 'synthetic':
        with tempfile.TemporaryDirectory() as tmp:
            write_wikitext(tmp, args.synthetic_paragraphs, args.seed, args.synthetic_scenes)
            return read(tmp)
    if args.dataset == 'wikitext-2':
        return read(get_dataset_dir('wikitext-2', args.data_dir, files=('wiki.train.tokens',)))
    raise ValueError("dataset must be 'wikitext-2' or 'synthetic', not %r" % args.dataset)


def validation_set(args, paragraphs, vocab):
    """The fixed validation pairs: `args.eval_pairs` pretraining examples of the
    held-out `paragraphs`, with the training vocabulary, drawn with a seed of
    their own (the same for every run of the same corpus and seed)."""
    if not args.eval_interval:
        return None
    if not paragraphs:
        print('note: the corpus has no %s: no validation metrics' % VALID_FILE, flush=True)
        return None
    data = WikiTextDataset(paragraphs, max_len=args.max_len, vocab=vocab, seed=args.seed + 1)
    return data.take(args.eval_pairs, seed=args.seed + 1)


def _start(args, cluster, kind):
    """Set up a run in its claimed output folder: its checkpoint folder,
    `args.json`, the seeds and the devices.  Returns (checkpoint folder or None,
    devices)."""
    ckpt_dir = None if args.no_checkpoints else _ckpt.prepare_checkpoint_dir(
        args.output, args.resume, args.overwrite, cluster.is_root)
    if cluster.is_root:
        save_args(os.path.join(args.output, ARGS_FILE), args, kind)
    _seed_everything(args.seed)
    ctxs = parse_contexts(args.ctx)
    if args.amp:
        init_amp(ctxs)              # before the model is built
    return ckpt_dir, ctxs


def run_pretraining(args, model_overrides=None):
    """Pretrain a BERT with the options `args` (a `PretrainArgs`) and save it
    (with its vocabulary, config, metrics and curves) into `args.output`.
    `model_overrides`: BERTConfig fields that replace the preset's.  Returns the
    summary dict.

    Checkpoints (unless `no_checkpoints`) go to `output/checkpoints` at the end of
    every pass over the data and every `checkpoint_every` steps; `resume`
    continues from the newest good one.  In a distributed job (`kvstore`
    'dist_sync'...) only rank 0 writes into `output`, after claiming it
    (`outputs.claim_output`: its lock, the guards of other jobs' results and of
    finished runs, --overwrite)."""
    cluster = setup_kvstore(args.kvstore)
    with claim_output(args.output, 'pretrain', args.overwrite, args.resume, cluster.is_root):
        return _pretraining(args, cluster, model_overrides)


def _pretraining(args, cluster, model_overrides):
    ckpt_dir, ctxs = _start(args, cluster, 'pretrain')
    t0 = time.perf_counter()
    paragraphs, held_out = load_pretraining_paragraphs(args)
    data = WikiTextDataset(paragraphs, max_len=args.max_len, seed=args.seed)
    if len(data) == 0:
        raise ValueError(
            '0 sentence pairs from %d paragraphs of the %s corpus: a pair needs a paragraph '
            'of at least 2 sentences (sentences end with " . ") whose two consecutive '
            'sentences fit in --max-len %d tokens with <cls> and two <sep>'
            % (len(paragraphs), args.dataset, args.max_len))
    valid = validation_set(args, held_out, data.vocab)
    print('read %d paragraphs, %d sentence pairs, vocabulary size %d%s (%.1f s)'
          % (len(paragraphs), len(data), len(data.vocab),
             '' if valid is None else '; %d validation pairs' % len(valid),
             time.perf_counter() - t0), flush=True)
    overrides = dict(model_overrides or {})
    if args.dropout is not None:
        overrides['dropout'] = args.dropout
    if args.positions is not None:          # at least max_len (PretrainArgs checks)
        overrides['max_len'] = args.positions
    config = get_config(args.preset, len(data.vocab), **overrides)
    if config.max_len < args.max_len:
        config = config.replace(max_len=args.max_len)
    net = BERTModel(config)
    net.initialize(init.Xavier(), ctx=ctxs)
    if args.embedding_init == 'normal':
        enc = net.encoder
        for param in (enc.token_embedding.weight, enc.segment_embedding.weight,
                      enc.pos_embedding):
            param.initialize(init.Normal(1.0), ctx=ctxs, force_reinit=True)
    summary = pretrain(net, data, ctxs, args, cluster=cluster, checkpoint_dir=ckpt_dir,
                       metrics_path=os.path.join(args.output, 'metrics.jsonl'),
                       valid_set=valid, best_folder=os.path.join(args.output, BEST_FOLDER)
                       if args.keep_best and cluster.is_root else None)
    records = summary.pop('records')
    if not cluster.is_root:         # rank 0 writes the outputs
        return summary
    plot_curves(records, 'step', ['mlm_loss', 'val_mlm_loss', 'nsp_loss', 'val_nsp_loss'],
                os.path.join(args.output, 'curves.png'), 'BERT pretraining')
    folders.save_pretrained(args.output, net, data.tokenizer)
    summary.update(dataset=args.dataset, num_pairs_in_data=len(data),
                   vocab_size=len(data.vocab), devices=[str(c) for c in ctxs],
                   preset=args.preset)
    write_json_atomic(os.path.join(args.output, 'summary.json'), summary)
    print('MLM loss %.3f, NSP loss %.3f (means over all %d steps, as the chapter prints)'
          % (summary['mlm_loss_running'], summary['nsp_loss_running'], summary['steps']))
    print('MLM loss %.3f, NSP loss %.3f (last %d steps)'
          % (summary['mlm_loss'], summary['nsp_loss'],
             summary['steps'] - (records[-2]['step'] if len(records) > 1 else 0)))
    if 'val_mlm_loss' in summary:
        print('validation: MLM loss %.3f, MLM acc %.3f, NSP loss %.3f, NSP acc %.3f'
              % (summary['val_mlm_loss'], summary['val_mlm_acc'], summary['val_nsp_loss'],
                 summary['val_nsp_acc']))
    if 'best' in summary:
        best = summary['best']
        print('best validation loss %.3f (MLM %.3f, NSP %.3f) at step %d: %s'
              % (best['val_loss'], best['val_mlm_loss'], best['val_nsp_loss'], best['step'],
                 best['folder']))
    print('%.1f sentence pairs/sec on %s' % (summary['pairs_per_sec'], [str(c) for c in ctxs]))
    return summary


def load_nli_data(args):
    """(train, test) NLI data: explicit files, the SNLI train/test splits, or the
    synthetic task; cut to `max_train_examples` / `max_test_examples`.  Prints
    for each file the rows read and skipped (and why); a set with no example
    is a ValueError saying which and why."""
    if args.train_file or args.test_file:
        if not (args.train_file and args.test_file):
            raise ValueError('give both --train-file and --test-file')
        train = snli.read_snli_file(args.train_file, args.label_map)
        test = snli.read_snli_file(args.test_file, args.label_map)
    elif args.dataset == 'synthetic':
        n_train, n_test = (list(args.synthetic_pairs) + [0, 0])[:2]
        if len(args.synthetic_pairs) != 2 or min(n_train, n_test) < 1:
            raise ValueError('--synthetic-pairs takes two numbers of at least 1 (TRAIN,TEST), '
                             'got %s' % ','.join(map(str, args.synthetic_pairs)))
        train, test = nli_task(n_train, seed=args.seed), nli_task(n_test, seed=args.seed + 1)
    elif args.dataset == 'snli':
        folder = get_dataset_dir('snli', args.data_dir)
        train = snli.read_snli(folder, 'train', args.label_map)
        test = snli.read_snli(folder, 'test', args.label_map)
    else:
        raise ValueError("dataset must be 'snli' or 'synthetic', not %r" % args.dataset)
    for what, data in (('training', train), ('test', test)):
        if data.path:
            print(snli.describe_reading(data), flush=True)
        if not len(data.labels):
            raise ValueError('the %s set has no example: %s' % (
                what, snli.describe_reading(data) if data.path else 'no pair'))
    return _take(train, args.max_train_examples), _take(test, args.max_test_examples)


def _take(data, n):
    """The first `n` examples of `data` (all when `n` is None)."""
    if n is None:
        return data
    if n < 1:
        raise ValueError('cannot take %d examples: the number must be at least 1' % n)
    return data[0][:n], None if data[1] is None else data[1][:n], data[2][:n]


def run_finetuning(args):
    """Fine-tune a pretrained BERT (`args.pretrained`) for 3-class NLI with the
    options `args` (a `FinetuneArgs`) and save the classifier, its metrics
    (`metrics.json`, `metrics.jsonl`) and curves into `args.output`.
    Checkpoints (unless `no_checkpoints`) go to `output/checkpoints` at every
    epoch end and every `checkpoint_every` steps; `resume` continues from the
    newest good one.  In a distributed job only rank 0 writes into `output`,
    after claiming it (see `run_pretraining`)."""
    return finetune_classifier(args, 'finetune', lambda: load_nli_data(args) + (None,))


def finetune_classifier(args, kind, load_data):
    """`run_finetuning` for the data `load_data()` returns: (train, test, task),
    `task` None for SNLI's 3 classes or a dict with the class names `labels` and
    the `text_columns` and `label_column` of the files (saved as `task.json`;
    the test metrics then include macro-F1 and MCC).  The output folder is
    claimed for a `kind` job (see `run_pretraining`)."""
    if os.path.realpath(args.output) == os.path.realpath(args.pretrained):
        raise ValueError('--output %s is the --pretrained folder: choose another output '
                         'folder' % args.output)
    cluster = setup_kvstore(args.kvstore)
    with claim_output(args.output, kind, args.overwrite, args.resume, cluster.is_root):
        return _finetuning(args, cluster, kind, load_data)


def _finetuning(args, cluster, kind, load_data):
    ckpt_dir, ctxs = _start(args, cluster, kind)
    pre = load_pretrained(args.pretrained, ctx=ctxs[0])
    if args.random_init:            # what no pretraining gives: same model, new weights
        pre.bert.initialize(init.Xavier(), ctx=ctxs[0], force_reinit=True)
    if pre.config.max_len < args.max_len:
        raise ValueError('max_len %d exceeds the positional embeddings of %s (%d)'
                         % (args.max_len, args.pretrained, pre.config.max_len))
    train_raw, test_raw, task = load_data()
    t0 = time.perf_counter()
    train_set, test_set = (snli.SNLIBERTDataset(raw, args.max_len, tokenizer=pre.tokenizer,
                                                num_workers=args.num_workers,
                                                truncation=args.truncation)
                           for raw in (train_raw, test_raw))
    print('read %d training and %d test examples (%.1f s)'
          % (len(train_set), len(test_set), time.perf_counter() - t0), flush=True)
    net = BERTClassifier(pre.bert, head=args.head,
                         num_classes=None if task is None else len(task['labels']))
    for block in net.new_blocks():
        block.initialize(init.Xavier(), ctx=ctxs)
    net.collect_params().reset_ctx(ctxs)
    summary = finetune(net, train_set, test_set, ctxs, args, cluster=cluster,
                       checkpoint_dir=ckpt_dir,
                       metrics_path=os.path.join(args.output, 'metrics.jsonl'),
                       all_metrics=task is not None)
    records = summary.pop('records')
    if not cluster.is_root:         # rank 0 writes the outputs
        return summary
    plot_curves(records, 'epoch', ['train_loss', 'train_acc', 'test_acc'],
                os.path.join(args.output, 'curves.png'), 'BERT fine-tuning on NLI'
                if task is None else 'BERT fine-tuning')
    net.collect_params().reset_ctx(mx.cpu())
    folders.save_classifier(args.output, net, pre.tokenizer)
    if task is not None:
        folders.save_task(args.output, task['labels'], task['text_columns'],
                          task['label_column'])
        summary['label_names'] = list(task['labels'])
    summary.update(computation_fields(args))
    write_json_atomic(os.path.join(args.output, 'metrics.json'), summary)
    print('loss %.3f, train acc %.3f, test acc %.3f%s'
          % (summary['train_loss'], summary['train_acc'], summary['test_acc'],
             '' if task is None else ', test macro-F1 %.3f, test MCC %.3f'
             % (summary['test_macro_f1'], summary['test_mcc'])))
    print('%.1f examples/sec on %s' % (summary['examples_per_sec'], summary['devices']))
    return summary
