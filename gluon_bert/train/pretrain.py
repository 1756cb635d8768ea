"""Pretraining BERT: masked language modeling + next sentence prediction."""
import math

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from gluon_bert.data.batching import split_and_load, iterate_batches, length_buckets, padded_length
from gluon_bert.train.logs import MetricsLog, Timer, progress_bar as _progress
from gluon_bert.train.loop import prepare_net
from gluon_bert.train import devices as _dist
from gluon_bert.train import checkpoint as _state
from gluon_bert.model.bert import cls_encoding

__all__ = ['pretrain', 'get_batch_loss_bert', 'pretrain_batch', 'split_pretrain_batch',
           'flatten_mlm_targets']


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


def split_pretrain_batch(batch, ctxs):
    """One tuple per device: (tokens, segments, valid_lens, flat MLM positions,
    MLM weights, MLM labels, NSP labels).  Examples are split over the devices with
    `gluon.utils.split_and_load`; each shard's MLM targets are flattened."""
    tokens, segments, valid, pred_positions, mlm_weights, mlm_labels, nsp = batch
    dense = split_and_load((tokens, segments, valid, nsp), ctxs)
    shards, start = [], 0
    for (t, s, v, y), ctx in zip(dense, ctxs):
        stop = start + t.shape[0]
        flat, w, lab = flatten_mlm_targets(pred_positions[start:stop], mlm_weights[start:stop],
                                           mlm_labels[start:stop], tokens.shape[1])
        shards.append((t, s, v, mx.nd.array(flat, ctx=ctx, dtype='int32'),
                       mx.nd.array(w, ctx=ctx), mx.nd.array(lab, ctx=ctx, dtype='int32'), y))
        start = stop
    return shards


def get_batch_loss_bert(net, loss, vocab_size, shards, num_mlm_weights, batch_size):
    """MLM and NSP losses of each device shard.  Each shard's loss is normalised by
    the GLOBAL batch's MLM-weight count and size, so the summed gradients equal the
    gradient of one device on the whole batch, however many devices share it."""
    mlm_ls, nsp_ls, ls = [], [], []
    for tokens, segments, valid_lens, mlm_pos, mlm_weights, mlm_y, nsp_y in shards:
        encoded_X = net.encoder(tokens, segments, valid_lens)
        nsp_Y_hat = net.nsp(net.hidden(cls_encoding(mx.nd, encoded_X)))
        # MaskLM over the shard's encodings as one sequence of B * L positions.
        mlm_Y_hat = net.mlm(encoded_X.reshape((-3, 0)).expand_dims(0), mlm_pos)
        mlm_l = loss(mlm_Y_hat.reshape((-1, vocab_size)), mlm_y,
                     mlm_weights.reshape((-1, 1))).sum() / num_mlm_weights
        nsp_l = loss(nsp_Y_hat, nsp_y).sum() / batch_size
        mlm_ls.append(mlm_l)
        nsp_ls.append(nsp_l)
        ls.append(mlm_l + nsp_l)
    return mlm_ls, nsp_ls, ls


def pretrain(net, dataset, ctxs, num_steps, batch_size=256, lr=0.01, seed=0,
             metrics_path=None, log_interval=50, progress=True, hybridize=True,
             kvstore='device', optimizer='adam', checkpoint_dir=None, checkpoint_every=0,
             keep_checkpoints=3, resume=False, grad_accum=1, amp=False, bucket=0):
    """Pretrain `net` (an initialized BERTModel) on a WikiTextDataset for
    `num_steps` steps over the devices `ctxs`.  Returns a summary dict with the
    final MLM and NSP losses (mean over the last log interval) and pairs/sec.

    `batch_size` is the global batch (all devices of all workers; see
    `gluon_bert.train.devices`).  With `checkpoint_dir`, a checkpoint is written at
    the end of every pass over the data, at the last step and every
    `checkpoint_every` steps (keeping `keep_checkpoints`); `resume` continues from
    the newest good one.  `grad_accum` K: K micro-batches per step; `amp`: float16
    mixed precision.  `bucket` N > 0: batches from N length buckets (GluonNLP's
    FixedBucketSampler), each padded to its own longest pair, instead of
    shuffled batches."""
    cluster = _dist.setup_kvstore(kvstore)
    prepare_net(net, ctxs, hybridize, amp, grad_accum)
    vocab_size = net.config.vocab_size
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = _dist.make_trainer(net.collect_params(), optimizer, {'learning_rate': lr},
                                 cluster)
    if amp:
        _dist.init_amp_trainer(trainer)
    rng = np.random.RandomState(seed)
    if bucket:
        np.random.seed(seed)          # the length buckets' order (see length_buckets)
    log = MetricsLog(metrics_path, enabled=metrics_path is not None and cluster.is_root)
    ckpt = None if not checkpoint_dir else _state.Checkpointer(
        checkpoint_dir, checkpoint_every, keep_checkpoints, enabled=cluster.is_root)
    bar = _progress(num_steps, progress and cluster.is_root, 'pretrain')
    timer, step, num_pairs = Timer(), 0, 0
    window = []                        # (mlm_sum, nsp_sum) NDArrays since last log
    pending = None
    epoch, done = 0, 0                 # passes over the data; batches done in this one
    if resume and ckpt is not None:
        resumed = _state.restore_loop(ckpt, net, trainer, ctxs, rng, log,
                                      expect=dict(seed=seed, batch_size=batch_size))
        if resumed:
            step, epoch, done = resumed['step'], resumed['epoch'], resumed['batch']
            timer.total, num_pairs = resumed['train_seconds'], resumed['pairs']
            # The log window's per-step losses (over all workers) are carried by rank 0.
            window = [(mx.nd.array([w_mlm if cluster.is_root else 0.], ctx=ctxs[0]),
                       mx.nd.array([w_nsp if cluster.is_root else 0.], ctx=ctxs[0]))
                      for w_mlm, w_nsp in resumed['window']]
            bar.update(step)
    _dist.sync_parameters(trainer, cluster)
    timer.start()
    while step < num_steps:
        epoch_rng = rng.get_state()
        np_rng = np.random.get_state() if bucket else None
        sampler = length_buckets(dataset.valid_lens, batch_size, bucket)
        batches = list(iterate_batches(len(dataset), batch_size, True, rng, sampler))
        for b, idx in enumerate(batches):
            if b < done:                   # resumed: these batches are done
                continue
            mx.random.seed(_dist.step_seed(seed, step, cluster.rank))
            n = len(idx)
            # Normalised by the GLOBAL batch's counts (see get_batch_loss_bert).
            num_weights = float(dataset.all_mlm_weights[idx].sum()) + 1e-8
            share, weight = _dist.worker_share(idx, cluster)
            mlm_parts, nsp_parts = [], []
            for micro in _dist.micro_batches(share, grad_accum):
                shards = split_pretrain_batch(pretrain_batch(dataset, micro), ctxs)
                with autograd.record():
                    mlm_ls, nsp_ls, ls = get_batch_loss_bert(net, loss, vocab_size, shards,
                                                             num_weights, n)
                _dist.backward(ls, trainer, amp, weight)
                mlm_parts += [l.as_in_context(ctxs[0]) for l in mlm_ls]
                nsp_parts += [l.as_in_context(ctxs[0]) for l in nsp_ls]
            trainer.step(1)
            _dist.zero_grads(net.collect_params(), grad_accum)
            mlm_sum, nsp_sum = mx.nd.add_n(*mlm_parts), mx.nd.add_n(*nsp_parts)
            if weight != 1:
                mlm_sum, nsp_sum = mlm_sum * weight, nsp_sum * weight
            window.append((mlm_sum, nsp_sum))
            if pending is not None:    # keep the engine at most one step ahead
                pending.wait_to_read()
            pending = nsp_sum
            step += 1
            num_pairs += n
            bar.update(1)
            if step % log_interval == 0 or step == num_steps:
                _state.check_finite([w[0] + w[1] for w in window], step, epoch + 1, ckpt)
                # Over all workers (a collective; the values themselves without one).
                mlm, nsp = _dist.allreduce_sum(cluster, [
                    mx.nd.add_n(*[w[0] for w in window]).asscalar(),
                    mx.nd.add_n(*[w[1] for w in window]).asscalar()]) / len(window)
                mlm, nsp = float(mlm), float(nsp)
                if not (math.isfinite(mlm) and math.isfinite(nsp)):
                    raise FloatingPointError('non-finite loss at step %d (epoch %d; mlm %s, '
                                             'nsp %s)' % (step, epoch + 1, mlm, nsp))
                elapsed = timer.stop()
                timer.start()
                log.write(step=step, mlm_loss=mlm, nsp_loss=nsp, time=elapsed,
                          pairs_per_sec=num_pairs / elapsed)
                bar.set_postfix(mlm='%.3f' % mlm, nsp='%.3f' % nsp)
                window = []
            last_of_pass = b + 1 == len(batches)
            if ckpt is not None and (ckpt.due(step) or step >= num_steps or last_of_pass):
                _state.check_finite([w[0] + w[1] for w in window], step, epoch + 1, ckpt)
                carried = [] if not window else _dist.allreduce_sum(cluster, mx.nd.concat(
                    *[x.reshape((1,)) for w in window for x in w], dim=0).asnumpy()).reshape(-1, 2)
                seconds = timer.stop()
                timer.start()
                after = (epoch + 1, 0, rng.get_state(), np.random.get_state()) \
                    if last_of_pass else (epoch, b + 1, epoch_rng, np_rng)
                _state.save_if_finite(ckpt, net, trainer, _state.loop_state(
                    step, after[0], after[1], after[2], trainer, log.records, seed=seed,
                    batch_size=batch_size, train_seconds=seconds, pairs=num_pairs,
                    np_random=None if not bucket else _state.rng_state_to_json(after[3]),
                    window=[[float(m), float(v)] for m, v in carried]), epoch + 1)
            if step >= num_steps:
                break
        else:
            epoch, done = epoch + 1, 0     # a full pass over the data
            continue
        done = b + 1                       # stopped at num_steps within this pass
    mx.nd.waitall()
    elapsed = timer.stop()
    bar.close()
    last = log.records[-1]
    return {'mlm_loss': last['mlm_loss'], 'nsp_loss': last['nsp_loss'], 'steps': step,
            'pairs': num_pairs, 'seconds': elapsed, 'pairs_per_sec': num_pairs / elapsed,
            'records': log.records}
