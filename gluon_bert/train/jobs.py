"""The two jobs of the chapter, end to end: pretrain BERT on WikiText-2 (or the
synthetic corpus), then fine-tune it on SNLI (or the synthetic NLI task).  The
scripts in `scripts/` parse their options and call these functions."""
import os
import time

import mxnet as mx
from mxnet import init

from gluon_bert.pretrained import load_pretrained
from gluon_bert.model import folders as checkpoint
from gluon_bert.model.config import get_config
from gluon_bert.model.bert import BERTModel, BERTClassifier
from gluon_bert.train.devices import parse_contexts
from gluon_bert.train.logs import plot_curves, prepare_output_dir
from gluon_bert.train import checkpoint as _state
from gluon_bert.train.devices import setup_kvstore, init_amp

__all__ = ['run_pretraining', 'run_finetuning', 'load_nli_data']


def _seed_everything(seed):
    import random
    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


def load_pretraining_paragraphs(dataset, data_dir=None, seed=0, synthetic_paragraphs=2000):
    """Paragraphs (lists of sentences) of WikiText-2 or of the synthetic corpus."""
    from gluon_bert.data.wikitext import read_wiki
    if dataset == 'synthetic':
        from gluon_bert.data.synthetic import write_wikitext
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            write_wikitext(tmp, synthetic_paragraphs, seed)
            return read_wiki(tmp, seed=seed)
    if dataset == 'wikitext-2':
        from gluon_bert.data.download import get_dataset_dir
        return read_wiki(get_dataset_dir('wikitext-2', data_dir, files=('wiki.train.tokens',)),
                         seed=seed)
    raise ValueError("dataset must be 'wikitext-2' or 'synthetic', not %r" % dataset)


def run_pretraining(output, dataset='wikitext-2', data_dir=None, preset='d2l.pretrain',
                    num_steps=4000, batch_size=256, max_len=128, lr=0.01, ctx='cpu',
                    seed=0, overwrite=False, log_interval=50, progress=True,
                    synthetic_paragraphs=2000, kvstore='device', checkpoint_every=0,
                    keep_checkpoints=3, resume=False, grad_accum=1, amp=False,
                    checkpoints=True, bucket=0, **config_overrides):
    """Pretrain a BERT and save it (with its vocabulary, config, metrics and
    curves) into `output`.  Returns the summary dict.

    Checkpoints (unless not `checkpoints`) go to `output/checkpoints` at the end of
    every pass over the data and every `checkpoint_every` steps; `resume`
    continues from the newest good one.  In a distributed job (`kvstore`
    'dist_sync'...) only rank 0 writes into `output`."""
    from gluon_bert.data.wikitext import WikiTextDataset
    from gluon_bert.train.pretrain import pretrain
    cluster = setup_kvstore(kvstore)
    prepare_output_dir(output, checkpoint.MODEL_PARAMS, overwrite)
    ckpt_dir = _state.prepare_checkpoint_dir(output, resume, overwrite, cluster.is_root) \
        if checkpoints else None
    _seed_everything(seed)
    ctxs = parse_contexts(ctx)
    t0 = time.perf_counter()
    paragraphs = load_pretraining_paragraphs(dataset, data_dir, seed, synthetic_paragraphs)
    data = WikiTextDataset(paragraphs, max_len=max_len, seed=seed)
    print('read %d paragraphs, %d sentence pairs, vocabulary size %d (%.1f s)'
          % (len(paragraphs), len(data), len(data.vocab), time.perf_counter() - t0),
          flush=True)
    config = get_config(preset, len(data.vocab), **config_overrides)
    if config.max_len < max_len:
        config = config.replace(max_len=max_len)
    if amp:
        init_amp(ctxs)              # before the model is built
    net = BERTModel(config)
    net.initialize(init.Xavier(), ctx=ctxs)
    summary = pretrain(net, data, ctxs, num_steps, batch_size, lr, seed=seed,
                       metrics_path=os.path.join(output, 'metrics.jsonl'),
                       log_interval=log_interval, progress=progress, kvstore=cluster,
                       checkpoint_dir=ckpt_dir, checkpoint_every=checkpoint_every,
                       keep_checkpoints=keep_checkpoints, resume=resume,
                       grad_accum=grad_accum, amp=amp, bucket=bucket)
    records = summary.pop('records')
    if not cluster.is_root:         # rank 0 writes the outputs
        return summary
    plot_curves(records, 'step', ['mlm_loss', 'nsp_loss'],
                os.path.join(output, 'curves.png'), 'BERT pretraining')
    checkpoint.save_pretrained(output, net, data.tokenizer)
    summary.update(dataset=dataset, num_pairs_in_data=len(data), vocab_size=len(data.vocab),
                   devices=[str(c) for c in ctxs], preset=preset)
    _write_json(os.path.join(output, 'summary.json'), summary)
    print('MLM loss %.3f, NSP loss %.3f' % (summary['mlm_loss'], summary['nsp_loss']))
    print('%.1f sentence pairs/sec on %s' % (summary['pairs_per_sec'], [str(c) for c in ctxs]))
    return summary


def load_nli_data(dataset='snli', data_dir=None, train_file=None, test_file=None,
                  seed=0, synthetic_pairs=(6000, 1000)):
    """(train, test) NLI data: explicit files, the SNLI train/test splits, or the
    synthetic task."""
    from gluon_bert.data import snli
    if train_file or test_file:
        if not (train_file and test_file):
            raise ValueError('give both --train-file and --test-file')
        return snli.read_snli_file(train_file), snli.read_snli_file(test_file)
    if dataset == 'synthetic':
        from gluon_bert.data.synthetic import nli_task
        return nli_task(synthetic_pairs[0], seed=seed), nli_task(synthetic_pairs[1], seed=seed + 1)
    if dataset == 'snli':
        from gluon_bert.data.download import get_dataset_dir
        folder = get_dataset_dir('snli', data_dir)
        return snli.read_snli(folder, 'train'), snli.read_snli(folder, 'test')
    raise ValueError("dataset must be 'snli' or 'synthetic', not %r" % dataset)


def _take(data, n):
    if not n:
        return data
    p, h, y = data[0][:n], data[1][:n], data[2][:n]
    return (p, h, y)


def run_finetuning(output, pretrained='runs/pretrain', dataset='snli', data_dir=None,
                   train_file=None, test_file=None, max_train_examples=None,
                   max_test_examples=None, max_len=128, batch_size=512, num_epochs=5,
                   lr=1e-4, ctx='cpu', seed=0, overwrite=False, head=None,
                   num_workers=None, bucket=0, progress=True, kvstore='device',
                   synthetic_pairs=(6000, 1000), weight_decay=0.0, warmup_ratio=0.0,
                   head_lr=None, freeze_embeddings=False, freeze_layers=(),
                   lr_schedule='auto', checkpoint_every=0, keep_checkpoints=3,
                   resume=False, grad_accum=1, amp=False, checkpoints=True):
    """Fine-tune a pretrained BERT for 3-class NLI and save the classifier, its
    metrics (`metrics.json`, `metrics.jsonl`) and curves into `output`.
    `weight_decay`, `warmup_ratio`, `head_lr`, `freeze_embeddings`, `freeze_layers`
    and `lr_schedule` are the options of `optim.make_trainer` (defaults: the
    chapter's plain Adam at a constant `lr`).  Checkpoints (unless not
    `checkpoints`) go to `output/checkpoints` at every epoch end and every
    `checkpoint_every` steps; `resume` continues from the newest good one.  In a
    distributed job (`kvstore` 'dist_sync'...) only rank 0 writes into `output`."""
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.train.finetune import finetune
    cluster = setup_kvstore(kvstore)
    prepare_output_dir(output, 'metrics.json', overwrite)
    ckpt_dir = _state.prepare_checkpoint_dir(output, resume, overwrite, cluster.is_root) \
        if checkpoints else None
    _seed_everything(seed)
    ctxs = parse_contexts(ctx)
    if amp:
        init_amp(ctxs)              # before the model is built
    pre = load_pretrained(pretrained, ctx=ctxs[0])
    if pre.config.max_len < max_len:
        raise ValueError('max_len %d exceeds the positional embeddings of %s (%d)'
                         % (max_len, pretrained, pre.config.max_len))
    train_raw, test_raw = load_nli_data(dataset, data_dir, train_file, test_file, seed,
                                        synthetic_pairs)
    train_raw = _take(train_raw, max_train_examples)
    test_raw = _take(test_raw, max_test_examples)
    t0 = time.perf_counter()
    train_set = SNLIBERTDataset(train_raw, max_len, tokenizer=pre.tokenizer,
                                num_workers=num_workers)
    test_set = SNLIBERTDataset(test_raw, max_len, tokenizer=pre.tokenizer,
                               num_workers=num_workers)
    print('read %d training and %d test examples (%.1f s)'
          % (len(train_set), len(test_set), time.perf_counter() - t0), flush=True)
    net = BERTClassifier(pre.bert, head=head)
    net.output.initialize(init.Xavier(), ctx=ctxs)
    if head == 'mlp':
        net.hidden.initialize(init.Xavier(), ctx=ctxs)
    net.collect_params().reset_ctx(ctxs)
    from gluon_bert.train.optim import make_trainer, num_training_steps
    trainer = make_trainer(net, lr, num_training_steps(len(train_set), batch_size, num_epochs),
                           weight_decay=weight_decay, warmup_ratio=warmup_ratio,
                           head_lr=head_lr, freeze_embeddings=freeze_embeddings,
                           freeze_layers=freeze_layers, lr_schedule=lr_schedule,
                           kvstore=cluster.kvstore)
    summary = finetune(net, train_set, test_set, ctxs, num_epochs, batch_size, lr, seed,
                       metrics_path=os.path.join(output, 'metrics.jsonl'),
                       progress=progress, bucket=bucket, kvstore=cluster, trainer=trainer,
                       checkpoint_dir=ckpt_dir, checkpoint_every=checkpoint_every,
                       keep_checkpoints=keep_checkpoints, resume=resume,
                       grad_accum=grad_accum, amp=amp)
    records = summary.pop('records')
    if not cluster.is_root:         # rank 0 writes the outputs
        return summary
    plot_curves(records, 'epoch', ['train_loss', 'train_acc', 'test_acc'],
                os.path.join(output, 'curves.png'), 'BERT fine-tuning on NLI')
    net.collect_params().reset_ctx(mx.cpu())
    checkpoint.save_classifier(output, net, pre.tokenizer)
    summary.update(pretrained=str(pretrained), max_len=max_len, batch_size=batch_size,
                   num_epochs=num_epochs, lr=lr, seed=seed, weight_decay=weight_decay,
                   warmup_ratio=warmup_ratio, head_lr=head_lr,
                   freeze_embeddings=freeze_embeddings, freeze_layers=list(freeze_layers),
                   lr_schedule=lr_schedule)
    _write_json(os.path.join(output, 'metrics.json'), summary)
    print('loss %.3f, train acc %.3f, test acc %.3f'
          % (summary['train_loss'], summary['train_acc'], summary['test_acc']))
    print('%.1f examples/sec on %s' % (summary['examples_per_sec'], summary['devices']))
    return summary


def _write_json(path, obj):
    from gluon_bert.fileio import write_json_atomic
    write_json_atomic(path, obj)
