"""Fine-tuning BERT for natural language inference (SNLI), and inference."""
import math

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from gluon_bert.data.batching import split_and_load, iterate_batches, length_buckets, nli_batch
from gluon_bert.train.logs import MetricsLog, Timer, progress_bar as _progress
from gluon_bert.train.loop import prepare_net
from gluon_bert.inference import evaluate_accuracy
from gluon_bert.train import devices as _dist
from gluon_bert.train import checkpoint as _state

__all__ = ['finetune']


def finetune(net, train_set, test_set, ctxs, num_epochs=5, batch_size=512, lr=1e-4,
             seed=0, metrics_path=None, progress=True, hybridize=True, kvstore='device',
             bucket=0, optimizer='adam', optimizer_params=None, trainer=None,
             on_epoch_end=None, checkpoint_dir=None, checkpoint_every=0,
             keep_checkpoints=3, resume=False, grad_accum=1, amp=False):
    """Fine-tune `net` (a BERTClassifier with initialized parameters) on
    `train_set`, evaluating on `test_set` after every epoch.  Returns a summary with
    the chapter's numbers: train loss, train acc, test acc, examples/sec.

    `batch_size` is the global batch (all devices of all workers; see
    `gluon_bert.train.devices`).  `kvstore`: a type name, an mx.kv.KVStore or a
    `distributed.Cluster`.  With `checkpoint_dir`, a checkpoint is written at every
    epoch end and every `checkpoint_every` steps (keeping `keep_checkpoints`), and
    `resume` continues from the newest good one (`gluon_bert.train.checkpoint`).
    `grad_accum` K: K micro-batches per step; `amp`: float16 mixed precision."""
    cluster = _dist.setup_kvstore(kvstore)
    prepare_net(net, ctxs, hybridize, amp, grad_accum)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    if trainer is None:
        params = dict(optimizer_params or {})
        params.setdefault('learning_rate', lr)
        trainer = _dist.make_trainer(net.collect_params(), optimizer, params, cluster)
    else:
        _dist.adopt_trainer(trainer, cluster)
    if amp:
        _dist.init_amp_trainer(trainer)
    rng = np.random.RandomState(seed)
    if bucket:
        np.random.seed(seed)          # the length buckets' order (see length_buckets)
    log = MetricsLog(metrics_path, enabled=metrics_path is not None and cluster.is_root)
    ckpt = None if not checkpoint_dir else _state.Checkpointer(
        checkpoint_dir, checkpoint_every, keep_checkpoints, enabled=cluster.is_root)
    timer = Timer()
    num_seen = 0
    step, start_epoch, done, carry = 0, 0, 0, None
    if resume and ckpt is not None:
        resumed = _state.restore_loop(ckpt, net, trainer, ctxs, rng, log,
                                      expect=dict(seed=seed, batch_size=batch_size))
        if resumed:
            step, start_epoch, done = resumed['step'], resumed['epoch'], resumed['batch']
            timer.total, num_seen = resumed['train_seconds'], resumed['num_seen']
            # The epoch's sums so far (over all workers) are carried by rank 0.
            carry = resumed['partial'] if cluster.is_root else dict(loss=0., correct=0., count=0)
    _dist.sync_parameters(trainer, cluster)
    for epoch in range(start_epoch, num_epochs):
        epoch_rng = rng.get_state()
        np_rng = np.random.get_state() if bucket else None
        sampler = length_buckets(train_set.valid_lens, batch_size, bucket)
        loss_sum, correct, count, pending = [], [], 0, None
        if carry and done:
            loss_sum = [mx.nd.array([carry['loss']], ctx=ctxs[0])]
            correct = [mx.nd.array([carry['correct']], ctx=ctxs[0])]
            count = int(carry['count'])
        checked = len(loss_sum)
        batches = list(iterate_batches(len(train_set), batch_size, True, rng, sampler))
        bar = _progress(len(batches), progress and cluster.is_root,
                        'epoch %d/%d' % (epoch + 1, num_epochs))
        bar.update(min(done, len(batches)))
        timer.start()
        for b, idx in enumerate(batches):
            if b < done:                # resumed: these batches are done
                continue
            mx.random.seed(_dist.step_seed(seed, step, cluster.rank))
            share, weight = _dist.worker_share(idx, cluster)
            step_loss, step_correct = [], []
            for micro in _dist.micro_batches(share, grad_accum):
                batch = nli_batch(train_set, micro)
                shards = split_and_load(batch, ctxs)
                with autograd.record():
                    outs = [(net(t, s, v), y) for t, s, v, y in shards]
                    ls = [loss(y_hat, y) for y_hat, y in outs]
                _dist.backward(ls, trainer, amp, weight)
                step_loss += [l.sum().as_in_context(ctxs[0]) for l in ls]
                step_correct += [
                    (y_hat.argmax(axis=1) == y.astype('float32')).sum().as_in_context(ctxs[0])
                    for y_hat, y in outs]
            # The global batch's size: the servers sum all workers' gradients.
            trainer.step(len(idx), ignore_stale_grad=True)
            _dist.zero_grads(net.collect_params(), grad_accum)
            # Sums stay on the device; read once per epoch (no per-step host sync).
            loss_sum.append(mx.nd.add_n(*step_loss) * weight if weight != 1
                            else mx.nd.add_n(*step_loss))
            correct.append(mx.nd.add_n(*step_correct) * weight if weight != 1
                           else mx.nd.add_n(*step_correct))
            if pending is not None:     # keep the engine at most one step ahead
                pending.wait_to_read()
            pending = correct[-1]
            count += len(share) if weight else 0
            step += 1
            bar.update(1)
            if ckpt is not None and ckpt.due(step):
                _state.check_finite(loss_sum[checked:], step, epoch + 1, ckpt)
                checked = len(loss_sum)
                sums = _dist.allreduce_sum(cluster, [
                    mx.nd.add_n(*loss_sum).asscalar(), mx.nd.add_n(*correct).asscalar(), count])
                seconds = timer.stop()
                timer.start()
                _state.save_if_finite(ckpt, net, trainer, _state.loop_state(
                    step, epoch, b + 1, epoch_rng, trainer, log.records, seed=seed,
                    batch_size=batch_size, train_seconds=seconds, num_seen=num_seen,
                    np_random=None if not bucket else _state.rng_state_to_json(np_rng),
                    partial=dict(loss=float(sums[0]), correct=float(sums[1]),
                                 count=int(sums[2]))), epoch + 1)
        mx.nd.waitall()
        train_time = timer.stop()
        bar.close()
        _state.check_finite(loss_sum[checked:], step, epoch + 1, ckpt)
        # Over all workers (a collective; the values themselves without one).
        loss_total, correct_total, count = _dist.allreduce_sum(cluster, [
            mx.nd.add_n(*loss_sum).asscalar(), mx.nd.add_n(*correct).asscalar(), count])
        count = int(count)
        num_seen += count
        train_loss = float(loss_total) / count
        train_acc = float(correct_total) / count
        if not math.isfinite(train_loss):
            raise _state.nonfinite_error(step, epoch + 1, ckpt)
        # In a distributed job rank 0 evaluates (every worker holds the same model).
        test_acc = (evaluate_accuracy(net, test_set, ctxs)
                    if test_set is not None and cluster.is_root else None)
        record = dict(epoch=epoch + 1, train_loss=train_loss, train_acc=train_acc,
                      test_acc=test_acc, examples_per_sec=num_seen / train_time,
                      train_seconds=train_time)
        log.write(**record)
        if progress and cluster.is_root:
            print('epoch %d: loss %.3f, train acc %.3f, test acc %s'
                  % (epoch + 1, train_loss, train_acc,
                     'n/a' if test_acc is None else '%.3f' % test_acc), flush=True)
        if ckpt is not None:
            _state.save_if_finite(ckpt, net, trainer, _state.loop_state(
                step, epoch + 1, 0, rng.get_state(), trainer, log.records, seed=seed,
                batch_size=batch_size, train_seconds=train_time, num_seen=num_seen,
                np_random=None if not bucket else
                _state.rng_state_to_json(np.random.get_state()),
                partial=dict(loss=0., correct=0., count=0)), epoch + 1)
        done, carry = 0, None
        if on_epoch_end is not None:
            on_epoch_end(record)
    last = log.records[-1]
    return dict(last, num_train_examples=len(train_set),
                num_test_examples=0 if test_set is None else len(test_set),
                devices=[str(c) for c in ctxs], records=log.records, steps=step,
                num_workers=cluster.num_workers)
