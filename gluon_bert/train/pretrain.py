"""Pretraining BERT: masked language modeling + next sentence prediction, the
chapter's `train_bert` as a job of the shared loop (`gluon_bert.train.loop`)."""
import sys

import numpy as np
import mxnet as mx
from mxnet import gluon
from mxnet.gluon import nn

from gluon_bert.data.batching import iterate_batches, split_and_load, padded_length, \
    packing_shards
from gluon_bert.model.bert import cls_encoding
from gluon_bert.model.folders import save_pretrained
from gluon_bert.train.loop import Job, train

__all__ = ['pretrain', 'PretrainJob', 'evaluate_pretraining', 'running_means', 'best_record',
           'get_batch_loss_bert', 'pretrain_batch',
           'split_pretrain_batch', 'flatten_mlm_targets', 'PretrainingHeads']


def pretrain_batch(dataset, idx, max_len=None):
    """Host arrays of one pretraining batch, padded to the batch's longest pair."""
    valid = dataset.valid_lens[idx]
    L = padded_length(int(valid.max()), max_len or dataset.all_token_ids.shape[1])
    return (dataset.all_token_ids[idx, :L], dataset.all_segments[idx, :L], valid,
            dataset.all_pred_positions[idx], dataset.all_mlm_weights[idx],
            dataset.all_mlm_labels[idx], dataset.nsp_labels[idx])


def flatten_mlm_targets(pred_positions, mlm_weights, mlm_labels, seq_len, multiple=16):
    """The real (weight > 0) MLM predictions of a shard, as positions into its
    encodings flattened to `(1, B * seq_len)`, with their weights and labels,
    padded with weight 0 to a multiple of `multiple`.  The chapter pads every
    example to round(0.15 * max_len) predictions; computing the vocabulary-sized
    MaskLM output only for the real ones does the same work at a fraction of the
    cost (its weighted loss is the same)."""
    b, p = np.nonzero(mlm_weights > 0)
    n = len(b)
    size = max(multiple, -(-n // multiple) * multiple)
    flat = np.zeros((1, size), np.int32)
    flat[0, :n] = b * seq_len + pred_positions[b, p]
    weights = np.zeros(size, np.float32)
    weights[:n] = mlm_weights[b, p]
    labels = np.zeros(size, np.int32)
    labels[:n] = mlm_labels[b, p]
    return flat, weights, labels


def split_pretrain_batch(batch, ctxs, pack=False):
    """One tuple per device: (tokens, segments, valid_lens, flat MLM positions,
    MLM weights, MLM labels, NSP labels, packing).  Examples are split over the
    devices with `gluon.utils.split_and_load`; each shard's MLM targets are
    flattened.  `packing`: with `pack`, the shard's (pack_idx, unpack_idx) for
    the encoder (`gluon_bert.model.packing`), else ()."""
    tokens, segments, valid, pred_positions, mlm_weights, mlm_labels, nsp = batch
    dense = split_and_load((tokens, segments, valid, nsp), ctxs)
    packings = packing_shards(valid, tokens.shape[1], ctxs) if pack else [()] * len(dense)
    shards, start = [], 0
    for (t, s, v, y), ctx, packing in zip(dense, ctxs, packings):
        stop = start + t.shape[0]
        flat, w, lab = flatten_mlm_targets(pred_positions[start:stop], mlm_weights[start:stop],
                                           mlm_labels[start:stop], tokens.shape[1])
        shards.append((t, s, v, mx.nd.array(flat, ctx=ctx, dtype='int32'),
                       mx.nd.array(w, ctx=ctx), mx.nd.array(lab, ctx=ctx, dtype='int32'), y,
                       packing))
        start = stop
    return shards


class PretrainingHeads(nn.HybridBlock):
    """The MLM and NSP losses of a shard from its encodings `(B, L, H)`, as one
    graph: `net.mlm` over the encodings as one sequence of B * L positions at the
    flat positions `(1, P)`, and `net.nsp(net.hidden(<cls>))`; their summed
    cross-entropies (MLM weighted by the targets' weights) divided by `norms`
    `(2,)`, the global batch's MLM-weight count and size.  In the graph the
    vocabulary-sized arrays (logits, log-softmax and their gradients) are
    neither copied by reshapes nor allocated anew at every step.  The
    parameters are `net`'s."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.mlm, self.nsp = net.hidden, net.mlm, net.nsp
        # (1, P, vocab), the P targets along axis 1: one loss per target
        self.mlm_loss = gluon.loss.SoftmaxCrossEntropyLoss(batch_axis=1)
        self.nsp_loss = gluon.loss.SoftmaxCrossEntropyLoss()

    def hybrid_forward(self, F, encoded_X, mlm_pos, mlm_weights, mlm_y, nsp_y, norms):
        mlm_Y_hat = self.mlm(encoded_X.reshape((-3, 0)).expand_dims(0), mlm_pos)
        nsp_Y_hat = self.nsp(self.hidden(cls_encoding(F, encoded_X)))
        mlm_l = self.mlm_loss(mlm_Y_hat, mlm_y.reshape((1, -1)),
                              mlm_weights.reshape((1, -1, 1))).sum()
        nsp_l = self.nsp_loss(nsp_Y_hat, nsp_y).sum()
        return (F.broadcast_div(mlm_l, F.slice_axis(norms, axis=0, begin=0, end=1)),
                F.broadcast_div(nsp_l, F.slice_axis(norms, axis=0, begin=1, end=2)))


def get_batch_loss_bert(net, shards, num_mlm_weights, batch_size, encoder=None, heads=None):
    """MLM and NSP losses of each device shard.  Each shard's loss is normalised by
    the GLOBAL batch's MLM-weight count and size, so the summed gradients equal the
    gradient of one device on the whole batch, however many devices share it.
    `encoder`: the block that encodes (default `net.encoder`; a packed shard's
    `model.packing.Packed(net.encoder)`); `heads`: a `PretrainingHeads` of `net`
    (default: a new one)."""
    encoder = encoder or net.encoder
    heads = heads or PretrainingHeads(net)
    mlm_ls, nsp_ls, ls = [], [], []
    for tokens, segments, valid_lens, mlm_pos, mlm_weights, mlm_y, nsp_y, packing in shards:
        encoded_X = encoder(tokens, segments, valid_lens, *packing)
        norms = mx.nd.array([num_mlm_weights, batch_size], ctx=tokens.context)
        mlm_l, nsp_l = heads(encoded_X, mlm_pos, mlm_weights, mlm_y, nsp_y, norms)
        mlm_ls.append(mlm_l)
        nsp_ls.append(nsp_l)
        ls.append(mlm_l + nsp_l)
    return mlm_ls, nsp_ls, ls


def evaluate_pretraining(net, dataset, ctxs, batch_size=256):
    """MLM loss and accuracy (over the real predictions) and NSP loss and
    accuracy of `net` on the pretraining examples `dataset`, dropout off; and
    `val_enc_spread`, how much the final encodings vary over the set's tokens
    (the mean over hidden units of their standard deviation over all valid
    positions): about 1 for a post-LN encoder whose encodings depend on the
    input, near 0 for one that has collapsed to the same vector everywhere
    (`COLLAPSED_SPREAD`)."""
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    vocab_size = net.config.vocab_size
    parts, moments = [], []
    for idx in iterate_batches(len(dataset), batch_size, False):
        for tokens, segments, valid, mlm_pos, w, mlm_y, nsp_y, _ in split_pretrain_batch(
                pretrain_batch(dataset, idx), ctxs):
            encoded = net.encoder(tokens, segments, valid)
            nsp_hat = net.nsp(net.hidden(cls_encoding(mx.nd, encoded)))
            mlm_hat = net.mlm(encoded.reshape((-3, 0)).expand_dims(0),
                              mlm_pos).reshape((-1, vocab_size))
            hit = (mlm_hat.argmax(axis=1) == mlm_y.astype('float32'))
            parts.append(mx.nd.stack(
                (loss(mlm_hat, mlm_y) * w).sum(), (hit * w).sum(), w.sum(),
                loss(nsp_hat, nsp_y).sum(),
                (nsp_hat.argmax(axis=1) == nsp_y.astype('float32')).sum()
            ).as_in_context(ctxs[0]))
            mask = mx.nd.SequenceMask(mx.nd.ones_like(encoded), sequence_length=valid,
                                      use_sequence_length=True, axis=1)
            moments.append([m.asnumpy().astype(np.float64) for m in (
                (encoded * mask).sum(axis=(0, 1)), (encoded ** 2 * mask).sum(axis=(0, 1)),
                mask.sum() / encoded.shape[2])])
    s = mx.nd.add_n(*parts).asnumpy() if parts else np.zeros(5)
    n = max(1, len(dataset))
    out = dict(val_mlm_loss=float(s[0] / max(s[2], 1e-8)),
               val_mlm_acc=float(s[1] / max(s[2], 1e-8)),
               val_nsp_loss=float(s[3] / n), val_nsp_acc=float(s[4] / n))
    if moments:
        total, squares, count = (sum(m[i] for m in moments) for i in range(3))
        mean = total / max(float(count), 1.0)
        var = np.maximum(squares / max(float(count), 1.0) - mean ** 2, 0.0)
        out['val_enc_spread'] = float(np.sqrt(var).mean())
    return out


# Below this `val_enc_spread` the encodings are (nearly) the same vector at every
# position of every input: MLM can only predict the unigram distribution and NSP
# only chance, and the gradients no longer depend on the input, so training does
# not recover.  The chapter's Adam at lr 0.01 collapses so (results/pretrain-chapter-4000).
COLLAPSED_SPREAD = 0.01


def running_means(records, names, step):
    """The means over all `step` steps so far of the per-interval means `names`
    in `records` (each over the steps since the record before it): the
    statistic the chapter prints."""
    prev, totals = 0, dict.fromkeys(names, 0.0)
    for r in records:
        for k in names:
            totals[k] += r[k] * (r['step'] - prev)
        prev = r['step']
    return {k + '_running': totals[k] / step for k in names} if step else {}


class PretrainJob(Job):
    """Pretraining steps: `args.num_steps` steps over a WikiTextDataset, each
    loss normalised by the global batch's MLM-weight count and size (so the
    update does not depend on the devices or workers sharing it; `trainer.step(1)`).
    Every `args.log_interval` steps a record holds the interval's mean MLM and
    NSP losses and their running means over all steps so far; every
    `args.eval_interval` steps also the metrics on `valid_set` (if given)."""
    name = 'pretrain'
    metric_names = ('mlm_loss', 'nsp_loss')
    shown = ('mlm_loss', 'nsp_loss', 'val_mlm_loss', 'val_nsp_loss')

    def __init__(self, net, dataset, ctxs, args, valid_set=None, best_folder=None):
        super().__init__(dataset, args)
        self.net, self.ctxs = net, ctxs
        self.valid_set = valid_set if args.eval_interval else None
        self.best_folder = best_folder if self.valid_set is not None else None
        self._warned_collapse = False
        self._heads = None

    def start_pass(self, epoch):
        if self.args.dynamic_masking:
            self.data.redraw(epoch)

    def num_steps(self):
        return self.args.num_steps

    def finished(self, step, passes):
        return step >= self.args.num_steps

    def forward(self, net, micro, batch):
        # Normalised by the GLOBAL batch's counts (see get_batch_loss_bert).
        num_weights = float(self.data.all_mlm_weights[batch].sum()) + 1e-8
        shards = split_pretrain_batch(pretrain_batch(self.data, micro), self.ctxs,
                                      self.args.pack)
        if self._heads is None:
            self._heads = self.hybridized_like(PretrainingHeads(net), net)
        mlm_ls, nsp_ls, ls = get_batch_loss_bert(
            net, shards, num_weights, len(batch),
            self.packed(net.encoder) if self.args.pack else None, self._heads)
        first = self.ctxs[0]
        return ls, [mx.nd.add_n(*[l.as_in_context(first) for l in mlm_ls]).reshape((1,)),
                    mx.nd.add_n(*[l.as_in_context(first) for l in nsp_ls]).reshape((1,))]

    def step_size(self, batch):
        return 1

    def _eval_due(self, step, finished):
        return self.valid_set is not None and (step % self.args.eval_interval == 0 or finished)

    def log_due(self, step, end_of_pass, finished):
        return step % self.args.log_interval == 0 or finished or self._eval_due(step, finished)

    def record(self, sums, num_steps, num_examples, progress):
        step = progress['step']
        record = dict(step=step, mlm_loss=float(sums[0]) / num_steps,
                      nsp_loss=float(sums[1]) / num_steps, time=progress['seconds'],
                      pairs_per_sec=progress['examples'] / progress['seconds'])
        record.update(running_means(progress['records'] + [record], self.metric_names, step))
        if self._eval_due(step, step >= self.args.num_steps):
            record.update(evaluate_pretraining(self.net, self.valid_set, self.ctxs))
            record['val_loss'] = record['val_mlm_loss'] + record['val_nsp_loss']
            self._warn_if_collapsed(record)
            self._keep_if_best(record, progress['records'])
        return record

    def _keep_if_best(self, record, records):
        """Save the parameters into `best_folder` when `record` has the lowest
        validation loss so far (a resumed run finds the best so far in its records)."""
        best = best_record(records)
        if self.best_folder is None or (best is not None and
                                        best['val_loss'] <= record['val_loss']):
            return
        record['best'] = True
        save_pretrained(self.best_folder, self.net, self.data.tokenizer)

    def _warn_if_collapsed(self, record):
        spread = record.get('val_enc_spread')
        if spread is None or spread >= COLLAPSED_SPREAD or self._warned_collapse:
            return
        self._warned_collapse = True
        print('warning: step %d: the encoder has collapsed: its outputs hardly depend on the '
              'input (val_enc_spread %.2g < %g), so MLM can only predict word frequencies and '
              'NSP only guess; such a run does not recover: restart with a lower --lr, a '
              'warmup (e.g. --recipe fast) (warned once)'
              % (record['step'], spread, COLLAPSED_SPREAD), file=sys.stderr, flush=True)

    def train_loss(self, record):
        return record['mlm_loss'] + record['nsp_loss']

    def summary(self, records, progress):
        last = records[-1]
        out = {'mlm_loss': last['mlm_loss'], 'nsp_loss': last['nsp_loss'],
               'steps': progress['step'], 'pairs': progress['examples'],
               'seconds': progress['seconds'],
               'pairs_per_sec': progress['examples'] / progress['seconds'],
               'records': records}
        out.update({k: v for k, v in last.items() if k.endswith('_running')})
        evaluated = [r for r in records if 'val_mlm_loss' in r]
        if evaluated:
            out.update({k: v for k, v in evaluated[-1].items() if k.startswith('val_')})
        best = best_record(records)
        if self.best_folder is not None and best is not None:
            out['best'] = dict({k: v for k, v in best.items() if k.startswith('val_')},
                               step=best['step'], folder=self.best_folder)
        return out


def best_record(records):
    """The record with the lowest validation loss (val_mlm_loss + val_nsp_loss;
    the earliest of equals), or None."""
    evaluated = [r for r in records if r.get('val_mlm_loss') is not None
                 and r.get('val_nsp_loss') is not None]
    for r in evaluated:
        r.setdefault('val_loss', r['val_mlm_loss'] + r['val_nsp_loss'])
    return min(evaluated, key=lambda r: r['val_loss']) if evaluated else None


def pretrain(net, dataset, ctxs, args, cluster=None, checkpoint_dir=None, metrics_path=None,
             hybridize=True, valid_set=None, best_folder=None):
    """Pretrain `net` (an initialized BERTModel) on a WikiTextDataset over the
    devices `ctxs` with the run options `args` (a `PretrainArgs`).  Returns a
    summary dict with the final MLM and NSP losses (mean over the last log
    interval, and running means over all steps), the last validation metrics on
    `valid_set` (pretraining examples, evaluated every `args.eval_interval`
    steps) and pairs/sec.  `best_folder`: where the parameters of the evaluation
    with the lowest validation loss are saved (a pretraining folder), named with
    its metrics in the summary's `best`.  `cluster`, `checkpoint_dir`,
    `metrics_path`: see `gluon_bert.train.loop.train`."""
    return train(net, PretrainJob(net, dataset, ctxs, args, valid_set, best_folder), ctxs, args,
                 cluster=cluster,
                 checkpoint_dir=checkpoint_dir, metrics_path=metrics_path,
                 hybridize=hybridize)
