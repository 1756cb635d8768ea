"""The training loop both jobs share.

`train(net, job, ctxs, args)` does everything that is the same for pretraining
and fine-tuning: the network's set-up, the trainer, resuming, the per-step seed,
this worker's share of every global batch, micro-batches, the optimizer step
(with optional gradient clipping), finiteness checks, checkpoints, the metrics
file and the progress bar.  A `Job` adds only what is its own: its batches, its
loss, and what its metrics mean.

Each step leaves a small vector of metric sums on the device (the job's
`metric_names`); the vectors since the last logged line are summed over workers
and turned into a record by `Job.record` when `Job.log_due` says so.  Nothing is
read back to the host in between, and the engine runs at most one step ahead.
"""
import math
import signal

import numpy as np
import mxnet as mx
from mxnet import autograd, gluon

from gluon_bert.data.batching import iterate_batches, length_buckets
from gluon_bert.model.bert import select_layer_norm
from gluon_bert.model.packing import Packed
from gluon_bert.train import checkpoint as _ckpt
from gluon_bert.train import devices as _dev
from gluon_bert.train.divergence import DivergenceCheck
from gluon_bert.train.logs import MetricsLog, Timer, progress_bar
from gluon_bert.train.optim import make_trainer
from gluon_bert.train.signals import Interrupted, StopRequests

__all__ = ['Job', 'train', 'prepare_net']


class Job:
    """What a training job adds to the loop: `data` (its training examples,
    with their `valid_lens`) and `args` (its run options).  Subclasses set
    `name` and `metric_names` and implement the methods that raise here."""
    name = 'train'
    metric_names = ()          # the per-step sums, in the order `forward` returns them
    shown = ()                 # record entries shown in the progress bar
    ignore_stale_grad = False

    def __init__(self, data, args):
        self.data, self.args = data, args
        self._packed = {}

    def packed(self, block):
        """`block` called with packing indices (`model.packing.Packed`), made
        once per block and hybridized as `block` is."""
        wrapper = self._packed.get(id(block))
        if wrapper is None:
            wrapper = self._packed[id(block)] = self.hybridized_like(Packed(block), block)
        return wrapper

    @staticmethod
    def hybridized_like(wrapper, block):
        """`wrapper` (a block around `block`'s children) hybridized as `block` is."""
        if block._active:
            wrapper.hybridize(True, **dict(block._flags))
        return wrapper

    def _sampler(self):
        return length_buckets(self.data.valid_lens, self.args.batch_size, self.args.bucket)

    def steps_per_pass(self):
        """Optimizer steps in one pass over the data."""
        sampler = self._sampler()
        return len(sampler) if sampler is not None else \
            -(-len(self.data) // self.args.batch_size)

    def num_steps(self):
        """Optimizer steps of the whole run (for learning-rate schedules)."""
        raise NotImplementedError

    def finished(self, step, passes):
        """Whether the run is complete after `step` steps and `passes` full passes."""
        raise NotImplementedError

    def start_pass(self, epoch):
        """Called before the batches of pass `epoch` (0-based) are drawn, also
        when a resumed run re-enters a pass."""

    def batches(self, rng):
        """The index arrays of one pass, drawn from the RandomState `rng`
        (shuffled, or from length buckets with `args.bucket`)."""
        return list(iterate_batches(len(self.data), self.args.batch_size, True, rng,
                                    self._sampler()))

    def forward(self, net, micro, batch):
        """Under `autograd.record`: the device losses of the micro-batch `micro`
        (indices) of the global batch `batch`, and the step's metric sums as
        NDArrays of shape (1,) on the first device, in `metric_names` order."""
        raise NotImplementedError

    def step_size(self, batch):
        """The `trainer.step` batch size (the loss normalisation) of `batch`."""
        return len(batch)

    def log_due(self, step, end_of_pass, finished):
        """Whether a metrics record is written after this step."""
        raise NotImplementedError

    def record(self, sums, num_steps, num_examples, progress):
        """The metrics record of the steps since the last one: `sums` of the
        metric vectors (over all workers), over `num_steps` steps and
        `num_examples` examples; `progress` holds `step`, `epoch` (passes
        completed), `examples` (all so far), `seconds` (training time) and
        `records` (the records so far).  Evaluation done here is not training time."""
        raise NotImplementedError

    def summary(self, records, progress):
        """The run's summary dict."""
        raise NotImplementedError

    def train_loss(self, record):
        """The training loss of a record (what the divergence rule watches)."""
        raise NotImplementedError

    def where(self, record):
        """Where a record was measured, e.g. 'step 50'."""
        return 'step %d' % record['step']


def prepare_net(net, ctxs, hybridize=True, amp=False, grad_accum=1):
    """Ready `net` for a training loop on the devices `ctxs`: float16 mixed
    precision (`amp`, initialised once per process), the LayerNorm kind for the
    devices, the static graph (`hybridize`) and gradient accumulation over
    `grad_accum` micro-batches."""
    if amp:
        _dev.init_amp(ctxs)
    select_layer_norm(net, ctxs)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    _dev.enable_grad_accumulation(net.collect_params(), grad_accum)


def _idle_devices_take_part(params, idle):
    """A batch smaller than the number of devices leaves some of them without
    examples (`split_and_load` never makes an empty shard).  Their gradients
    would still hold the previous step's (summed into this update), or the
    trainer would refuse them as stale: they count as zero, as a device with no
    examples contributes nothing."""
    for p in params.values():
        if p.grad_req == 'null':
            continue
        for ctx in idle:
            p.grad(ctx)[:] = 0
            p.data(ctx)._fresh_grad = True


def _update(trainer, params, ctxs, step_size, ignore_stale, clip_norm):
    """One optimizer step.  With `clip_norm`, the summed gradients are clipped to
    that global L2 norm per example of the step (`gluon.utils.clip_global_norm`)
    between the reduction and the update."""
    if not clip_norm:
        trainer.step(step_size, ignore_stale_grad=ignore_stale)
        return
    trainer.allreduce_grads()
    live = [p for p in params.values() if p.grad_req != 'null']
    for ctx in ctxs:
        gluon.utils.clip_global_norm([p.grad(ctx) for p in live], clip_norm * step_size,
                                     check_isfinite=False)
    trainer.update(step_size, ignore_stale_grad=ignore_stale)


class _Window:
    """The per-step metric vectors since the last record, with their batch sizes."""

    def __init__(self, ctx, carried=()):
        self.ctx, self.items, self.checked = ctx, [], 0
        for row in carried:
            self.items.append((mx.nd.array(row[:-1], ctx=ctx), int(row[-1])))

    def add(self, vector, size):
        self.items.append((vector, size))

    def check_finite(self, step, epoch, checkpointer):
        _ckpt.check_finite([v.sum() for v, _ in self.items[self.checked:]], step, epoch,
                           checkpointer)
        self.checked = len(self.items)

    def sums(self, cluster, width):
        total = (mx.nd.add_n(*[v for v, _ in self.items]).asnumpy() if self.items
                 else np.zeros(width))
        return _dev.allreduce_sum(cluster, total)

    def carried(self, cluster, width):
        """The vectors summed over workers, as JSON rows [values..., size]."""
        if not self.items:
            return []
        rows = _dev.allreduce_sum(cluster, mx.nd.concat(
            *[v for v, _ in self.items], dim=0).asnumpy()).reshape(-1, width)
        return [[float(x) for x in row] + [size] for row, (_, size) in zip(rows, self.items)]

    def clear(self):
        self.items, self.checked = [], 0


def train(net, job, ctxs, args, cluster=None, trainer=None, checkpoint_dir=None,
          metrics_path=None, hybridize=True):
    """Train `net` (initialized) for `job` on the devices `ctxs` with the run
    options `args` (a `TrainArgs`).  `cluster`: a `devices.Cluster` (default: from
    `args.kvstore`); `trainer`: one made by `optim.make_trainer` (default: made
    here); `checkpoint_dir`: where checkpoints go (none without it);
    `metrics_path`: the JSON-lines metrics file.  Returns `job.summary(...)`."""
    cluster = _dev.setup_kvstore(args.kvstore if cluster is None else cluster)
    prepare_net(net, ctxs, hybridize, args.amp, args.grad_accum)
    steps_per_pass = job.steps_per_pass()
    if steps_per_pass < 1:
        raise ValueError('no training batch can be formed: the data has no examples')
    if trainer is None:
        trainer = make_trainer(net, args, job.num_steps(), cluster)
    if args.amp:
        _dev.init_amp_trainer(trainer)
    params = net.collect_params()
    rng = np.random.RandomState(args.seed)
    if args.bucket:
        np.random.seed(args.seed)        # the length buckets' order (see length_buckets)
    log = MetricsLog(metrics_path, enabled=metrics_path is not None and cluster.is_root)
    ckpt = None if not checkpoint_dir else _ckpt.Checkpointer(
        checkpoint_dir, args.checkpoint_every, args.keep_checkpoints, enabled=cluster.is_root)
    width = len(job.metric_names)
    timer, step, epoch, done, examples = Timer(), 0, 0, 0, 0
    window = _Window(ctxs[0])
    if args.resume and ckpt is not None:
        state = _ckpt.restore_loop(ckpt, net, trainer, ctxs, rng, log, args)
        if state:
            step, epoch, done = state['step'], state['epoch'], state['batch']
            timer.total, examples = state['train_seconds'], state['examples']
            # The window's per-step sums (over all workers) are carried by rank 0.
            window = _Window(ctxs[0], state['window'] if cluster.is_root else
                             [[0.] * width + [row[-1]] for row in state['window']])
    _dev.sync_parameters(trainer, cluster)
    bar = progress_bar(job.num_steps(), args.progress and cluster.is_root, job.name)
    bar.update(step)

    def progress(passes):
        return dict(step=step, epoch=passes, examples=examples, seconds=timer.total,
                    records=log.records)

    finished = job.finished(step, epoch)
    pending = None
    diverging = DivergenceCheck(args.divergence_factor, args.stop_on_divergence, ckpt)

    def save_checkpoint(b, end_of_pass, epoch_rng, np_rng):
        window.check_finite(step, epoch + 1, ckpt)
        carried = window.carried(cluster, width)
        timer.stop()
        after = (epoch + 1, 0, rng.get_state(), np.random.get_state()) \
            if end_of_pass else (epoch, b + 1, epoch_rng, np_rng)
        path = _ckpt.save_if_finite(ckpt, net, trainer, _ckpt.loop_state(
            step, after[0], after[1], after[2], trainer, log.records, args,
            train_seconds=timer.total, examples=examples, window=carried,
            np_random=None if not args.bucket else
            _ckpt.rng_state_to_json(after[3])), epoch + 1)
        timer.start()
        return path

    def stop(signum, saved):
        name = signal.Signals(signum).name
        if ckpt is None:
            where = 'no checkpoint written (--no-checkpoints): the run cannot be resumed'
        elif saved is None and not cluster.is_root:
            where = 'rank 0 writes the checkpoint'
        else:
            where = 'checkpoint written: %s' % saved
        return Interrupted(signum, 'stopped by %s at step %d (epoch %d); %s'
                           % (name, step, epoch + 1, where), step=step, checkpoint=saved)

    def stop_now(signum):
        last = ckpt.last_path if ckpt is not None else None
        return Interrupted(signum, 'stopped by %s during step %d (epoch %d); %s' % (
            signal.Signals(signum).name, step + 1, epoch + 1,
            'the last checkpoint is %s' % last if last else
            'no checkpoint of this run was written'), step=step, checkpoint=last)

    timer.start()
    # The workers of a distributed job cannot agree on a step to stop at without
    # a synchronisation per step: there a signal stops at once.
    with StopRequests(defer=cluster.num_workers == 1, immediate=stop_now) as stops:
        while not finished:
            epoch_rng = rng.get_state()
            np_rng = np.random.get_state() if args.bucket else None
            job.start_pass(epoch)
            batches = job.batches(rng)
            if len(batches) <= done:
                raise RuntimeError('no batch left in pass %d: %d batches, %d of them done; '
                                   'the data differ from those of the checkpoint'
                                   % (epoch + 1, len(batches), done))
            for b, idx in enumerate(batches):
                if b < done:                     # resumed: these batches are done
                    continue
                mx.random.seed(_dev.step_seed(args.seed, step, cluster.rank))
                share, weight = _dev.worker_share(idx, cluster)
                parts, used = [], 0
                for micro in _dev.micro_batches(share, args.grad_accum):
                    with autograd.record():
                        losses, metrics = job.forward(net, micro, idx)
                    _dev.backward(losses, trainer, args.amp, weight)
                    parts += [mx.nd.concat(*metrics, dim=0)] if width > 1 else list(metrics)
                    used = max(used, len(losses))
                if used < len(ctxs):
                    _idle_devices_take_part(params, ctxs[used:])
                _update(trainer, params, ctxs, job.step_size(idx), job.ignore_stale_grad,
                        args.clip_grad_norm)
                _dev.zero_grads(params, args.grad_accum)
                vector = mx.nd.add_n(*parts) if len(parts) > 1 else parts[0]
                window.add(vector * weight if weight != 1 else vector, len(idx))
                if pending is not None:          # keep the engine at most one step ahead
                    pending.wait_to_read()
                pending = vector
                step += 1
                examples += len(idx)
                bar.update(1)
                end_of_pass = b + 1 == len(batches)
                passes = epoch + 1 if end_of_pass else epoch
                finished = job.finished(step, passes)
                if job.log_due(step, end_of_pass, finished):
                    window.check_finite(step, epoch + 1, ckpt)
                    sums = window.sums(cluster, width)
                    if not all(math.isfinite(x) for x in sums):
                        raise _ckpt.nonfinite_error(step, epoch + 1, ckpt)
                    mx.nd.waitall()
                    timer.stop()
                    record = job.record(sums, len(window.items),
                                        sum(n for _, n in window.items), progress(passes))
                    log.write(**record)
                    bar.set_postfix({k: '%.3f' % record[k] for k in job.shown
                                     if record.get(k) is not None})
                    window.clear()
                    timer.start()
                    diverging.check(log.records, job.train_loss, job.where)
                saved = None
                if ckpt is not None and (ckpt.due(step) or end_of_pass or finished or
                                         stops.signum is not None):
                    saved = save_checkpoint(b, end_of_pass, epoch_rng, np_rng)
                if finished:
                    break
                if stops.signum is not None:
                    bar.close()
                    raise stop(stops.signum, saved)
            epoch, done = (epoch + 1, 0) if end_of_pass else (epoch, b + 1)
    mx.nd.waitall()
    timer.stop()
    bar.close()
    return job.summary(log.records, progress(epoch))
