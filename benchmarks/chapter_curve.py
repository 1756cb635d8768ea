"""The chapter's pretraining, d2l 0.12.0's own code, logged as gluon_bert logs
its runs: the side-by-side of the chapter's curve.

The chapter's section 15.7.1 on WikiText-2 in `--data-dir`: d2l's `_read_wiki`
and `_WikiTextDataset`, a shuffling DataLoader (`load_data_wiki`'s), the
chapter's `BERTModel(len(vocab), num_hiddens=128, ffn_num_hiddens=128,
num_heads=2, num_layers=2, dropout=0.2)` with Xavier initialisation, and
`d2l.train_bert(train_iter, net, loss, len(vocab), ctx, log_interval,
num_steps)` unchanged (Adam at lr 1e-3, `trainer.step(1)`).  d2l's `Animator`
gives way to a `CurveRecorder`: every --log-interval steps a line of
OUTPUT/metrics.jsonl has the running means `train_bert` plots
(`mlm_loss_running`, `nsp_loss_running`), the interval's means (`mlm_loss`,
`nsp_loss`) and pairs/sec; every --eval-interval steps also the MLM and NSP
losses and accuracies and `val_enc_spread` (see
`gluon_bert.train.pretrain.evaluate_pretraining`) on the validation pairs
gluon_bert's pretraining draws from wiki.valid.tokens (`validation_set`, same
--eval-pairs and seed), in d2l's vocabulary.  `gluon-bert plot` draws it beside
a gluon_bert run.

    PYTHONPATH=DIR python -m benchmarks.chapter_curve --data-dir ../shared/data/wikitext-2 \\
        --num-steps 1000 --output /tmp/d2l-curve

(DIR: d2l 0.12.0, `pip install --no-deps --target DIR d2l==0.12.0`.)
"""
import argparse
import contextlib
import json
import os
import random
import time

import numpy as onp

from gluon_bert.fileio import dumps_json, write_json_atomic

LOSS_KEYS = ('mlm_loss', 'nsp_loss')
# The chapter's model (section 15.7.1) and d2l 0.12.0 `train_bert`'s learning rate.
MODEL = dict(num_hiddens=128, ffn_num_hiddens=128, num_heads=2, num_layers=2, dropout=0.2)
TRAIN_BERT_LR = 1e-3


def _d2l_arrays(np, ds):
    """A WikiTextDataset as the mxnet.np arrays of d2l's `_WikiTextDataset` items."""
    return (np.array(ds.all_token_ids, dtype='int32'), np.array(ds.all_segments, dtype='int32'),
            np.array(ds.valid_lens, dtype='float32'),
            np.array(ds.all_pred_positions, dtype='int32'),
            np.array(ds.all_mlm_weights, dtype='float32'),
            np.array(ds.all_mlm_labels, dtype='int32'), np.array(ds.nsp_labels, dtype='int32'))


def evaluate(d2l, net, loss, vocab_size, arrays, batch_size=256):
    """MLM and NSP loss (d2l's `_get_batch_loss_bert`, dropout off) and accuracy
    of `net` on the validation `arrays` (`_d2l_arrays`), and the spread of its
    final encodings over their valid positions (`val_enc_spread`)."""
    from mxnet import autograd
    outputs = []
    handle = net.register_forward_hook(lambda block, inputs, out: outputs.append(out))
    mlm = onp.zeros(3)              # weighted loss, weighted hits, weights
    nsp = onp.zeros(2)              # loss, hits (sums over the pairs)
    moments, count, n = 0.0, 0, arrays[0].shape[0]   # sums of x and x**2, positions
    try:
        for start in range(0, n, batch_size):
            batch = [a[start:start + batch_size] for a in arrays]
            with autograd.predict_mode():
                mlm_ls, nsp_ls, _ = d2l._get_batch_loss_bert(net, loss, vocab_size,
                                                            *[[a] for a in batch])
            encoded, mlm_hat, nsp_hat = outputs.pop()
            _, _, valid_lens, _, weights, mlm_y, nsp_y = [a.asnumpy() for a in batch]
            w = weights.sum()
            mlm += (float(mlm_ls[0]) * (w + 1e-8),
                    ((mlm_hat.argmax(axis=-1).asnumpy() == mlm_y) * weights).sum(), w)
            nsp += (float(nsp_ls[0]) * len(nsp_y),
                    (nsp_hat.argmax(axis=-1).asnumpy() == nsp_y).sum())
            x = encoded.asnumpy().astype(onp.float64)
            rows = onp.concatenate([x[b, :int(v)] for b, v in enumerate(valid_lens)])
            moments = moments + onp.stack((rows.sum(axis=0), (rows ** 2).sum(axis=0)))
            count += len(rows)
    finally:
        handle.detach()
    mean = moments[0] / max(count, 1)
    spread = onp.sqrt(onp.maximum(moments[1] / max(count, 1) - mean ** 2, 0.0)).mean()
    return dict(val_mlm_loss=mlm[0] / max(mlm[2], 1e-8), val_mlm_acc=mlm[1] / max(mlm[2], 1e-8),
                val_nsp_loss=nsp[0] / max(n, 1), val_nsp_acc=nsp[1] / max(n, 1),
                val_enc_spread=float(spread))


class CountedBatches:
    """The batches of `loader`, counting their pairs (`pairs`)."""

    def __init__(self, loader):
        self.loader, self.pairs = loader, 0

    def __iter__(self):
        for batch in self.loader:
            self.pairs += batch[0].shape[0]
            yield batch


class CurveRecorder:
    """What d2l's `train_bert` takes for its `Animator`: each `add(step,
    (mlm_running, nsp_running))` writes a record to `log` (and prints it), with
    the validation metrics (`evaluate` on `valid_arrays`) every `eval_interval`
    steps and at `num_steps`, when also the parameters go to
    `params_dir`/step-N.params if it is given.  `time` and `pairs_per_sec`
    leave out the evaluations."""

    def __init__(self, log, d2l, net, loss, vocab_size, batches, num_steps,
                 valid_arrays=None, eval_interval=0, params_dir=None):
        self.log, self.d2l, self.net, self.loss, self.vocab_size = log, d2l, net, loss, vocab_size
        self.batches, self.num_steps = batches, num_steps
        self.valid_arrays, self.eval_interval = valid_arrays, eval_interval
        self.params_dir = params_dir
        self.records, self.eval_seconds, self.start = [], 0.0, time.perf_counter()

    def add(self, step, running):
        seconds = time.perf_counter() - self.start - self.eval_seconds
        last = self.records[-1] if self.records else dict(
            step=0, **{k + '_running': 0.0 for k in LOSS_KEYS})
        record = dict(step=step)
        for key, value in zip(LOSS_KEYS, running):
            record[key] = ((float(value) * step - last[key + '_running'] * last['step'])
                           / (step - last['step']))
        record.update(time=seconds, pairs_per_sec=self.batches.pairs / seconds)
        record.update({k + '_running': float(v) for k, v in zip(LOSS_KEYS, running)})
        if self.eval_interval and (step % self.eval_interval == 0 or step == self.num_steps):
            t0 = time.perf_counter()
            if self.valid_arrays is not None:
                record.update(evaluate(self.d2l, self.net, self.loss, self.vocab_size,
                                       self.valid_arrays))
            if self.params_dir:
                self.net.save_parameters(os.path.join(self.params_dir, 'step-%d.params' % step))
            self.eval_seconds += time.perf_counter() - t0
        self.records.append(record)
        self.log.write(dumps_json(record) + '\n')
        self.log.flush()
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in record.items()}), flush=True)


@contextlib.contextmanager
def _replaced(module, **attrs):
    """`module`'s attributes `attrs` replaced while the block runs."""
    old = {name: getattr(module, name) for name in attrs}
    for name, value in attrs.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


def chapter_curve(data_dir, num_steps, output, lr=TRAIN_BERT_LR, batch_size=256, max_len=128,
                  seed=0, log_interval=50, eval_interval=200, eval_pairs=2000, num_workers=None,
                  save_params=False):
    """Run the chapter's pretraining (d2l 0.12.0's `train_bert`) for `num_steps`
    steps and log it into `output/metrics.jsonl`; returns the records.  `lr`
    other than 1e-3 scales every parameter's `lr_mult`, so that `train_bert`'s
    Adam steps at `lr`; `num_workers`: the DataLoader's (None: the chapter's,
    `d2l.get_dataloader_workers()`); `save_params`: keep the parameters of
    every evaluation step in `output` (step-N.params, d2l's names), and d2l's
    vocabulary (vocab.json, its idx_to_token)."""
    from benchmarks.chapter import D2L_VERSION, import_d2l
    d2l = import_d2l()
    if not os.path.isfile(os.path.join(data_dir, 'wiki.train.tokens')):
        raise SystemExit('error: %s holds no wiki.train.tokens: give --data-dir the unpacked '
                         'WikiText-2 folder' % data_dir)
    from gluon_bert.train.jobs import load_pretraining_paragraphs, validation_set
    from gluon_bert.train.options import PretrainArgs
    import mxnet as mx
    from mxnet import gluon, init, np, npx
    npx.set_np()
    random.seed(seed)
    onp.random.seed(seed)
    mx.random.seed(seed)

    train_set = d2l._WikiTextDataset(d2l._read_wiki(data_dir), max_len)
    vocab = train_set.vocab
    workers = d2l.get_dataloader_workers() if num_workers is None else num_workers
    batches = CountedBatches(gluon.data.DataLoader(train_set, batch_size, shuffle=True,
                                                   num_workers=workers))
    valid_arrays = None
    if eval_interval:
        args = PretrainArgs(data_dir=data_dir, max_len=max_len, seed=seed,
                            eval_interval=eval_interval, eval_pairs=eval_pairs)
        valid = validation_set(args, load_pretraining_paragraphs(args)[1], vocab)
        valid_arrays = None if valid is None else _d2l_arrays(np, valid)
    print('%d training pairs, %d validation pairs, vocabulary %d'
          % (len(train_set), 0 if valid_arrays is None else len(valid_arrays[0]), len(vocab)),
          flush=True)

    ctx, loss = d2l.try_all_gpus(), gluon.loss.SoftmaxCELoss()
    net = d2l.BERTModel(len(vocab), **MODEL)
    net.initialize(init.Xavier(), ctx=ctx)
    if lr != TRAIN_BERT_LR:
        for param in net.collect_params().values():
            param.lr_mult = lr / TRAIN_BERT_LR
    os.makedirs(output, exist_ok=True)
    write_json_atomic(os.path.join(output, 'settings.json'), dict(
        d2l=D2L_VERSION, data_dir=os.path.abspath(data_dir), num_steps=num_steps, lr=lr,
        batch_size=batch_size, max_len=max_len, seed=seed, log_interval=log_interval,
        eval_interval=eval_interval, eval_pairs=eval_pairs, num_workers=workers,
        model=MODEL, train_pairs=len(train_set), vocab_size=len(vocab)))
    if save_params:
        write_json_atomic(os.path.join(output, 'vocab.json'), vocab.idx_to_token)
    with open(os.path.join(output, 'metrics.jsonl'), 'w') as log:
        recorder = CurveRecorder(log, d2l, net, loss, len(vocab), batches, num_steps,
                                 valid_arrays, eval_interval, output if save_params else None)
        with _replaced(d2l, Animator=lambda **kwargs: recorder,
                       use_svg_display=lambda: None):
            d2l.train_bert(batches, net, loss, len(vocab), ctx, log_interval, num_steps)
    return recorder.records


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-dir', required=True, help='unpacked wikitext-2 folder')
    p.add_argument('--output', required=True, help='folder for metrics.jsonl')
    p.add_argument('--num-steps', type=int, default=1000)
    p.add_argument('--lr', type=float, default=TRAIN_BERT_LR,
                   help="Adam's lr (default: d2l 0.12.0 train_bert's, %(default)g; "
                        "0.01 is d2l 1.0's)")
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--max-len', type=int, default=128)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--log-interval', type=int, default=50)
    p.add_argument('--eval-interval', type=int, default=200, help='0: no validation')
    p.add_argument('--eval-pairs', type=int, default=2000)
    p.add_argument('--num-workers', type=int, default=None,
                   help="the DataLoader's worker processes (default: the chapter's, 4)")
    p.add_argument('--save-params', action='store_true',
                   help="keep the parameters at every evaluation step (OUTPUT/step-N.params) "
                        "and d2l's vocabulary (OUTPUT/vocab.json)")
    a = p.parse_args(argv)
    chapter_curve(a.data_dir, a.num_steps, a.output, lr=a.lr, batch_size=a.batch_size,
                  max_len=a.max_len, seed=a.seed, log_interval=a.log_interval,
                  eval_interval=a.eval_interval, eval_pairs=a.eval_pairs,
                  num_workers=a.num_workers, save_params=a.save_params)


if __name__ == '__main__':
    main()
