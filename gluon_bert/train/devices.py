"""Scaling training out: MXNet's kvstore (one machine or a parameter-server
cluster), gradient accumulation and mixed precision.

kvstore types (`--kvstore`)
---------------------------
* `device` (default, the chapter's): gradients of the devices of `--ctx` are
  summed on a device; with one device there is no kvstore at all.
* `local`: the same, summed in host memory.
* `dist_sync`, `dist_device_sync`: synchronous data parallelism over several
  worker processes (on one or many machines) through MXNet's parameter server.
  The processes need the `DMLC_*` environment of a launcher: start them with
  `python -m gluon_bert.launch -n WORKERS -s SERVERS -- COMMAND` on one
  machine, or with MXNet's `tools/launch.py` on a cluster (see
  `gluon_bert.launch`).  `dist_device_sync` sums a worker's devices on a GPU
  before the push.

Batch size and learning rate
----------------------------
`batch_size` is the GLOBAL batch: the examples of one optimizer step, over all
devices of all workers.  Every worker draws the same shuffled order of each epoch
(same seed), cuts it into the same global batches, and worker `r` of `W` takes
the `r`-th of `W` nearly equal contiguous slices of every batch (its devices split
that slice again).  The servers sum the workers' gradients and every worker then
applies the same update to its copy of the parameters (`update_on_kvstore=False`,
so the optimizer state is local and can be checkpointed), normalised by the size
of the global batch (`trainer.step(global_batch_size)`; pretraining normalises
its losses by the global batch's counts and steps with 1).  Hence W workers with
batch B make exactly the update of one device with batch B: the learning rate,
the number of steps per epoch and the result do not depend on W (up to float
rounding), and a run may be resumed with another number of workers.  To keep the
per-worker batch when adding workers, multiply `--batch-size` by W and adjust
`--lr` yourself (e.g. linearly).

Only rank 0 writes checkpoints, metrics, curves and the final model; the output
folder must be on a file system every worker can read for `--resume` (each worker
loads the optimizer state from the checkpoint).  The rank a worker gets from the
scheduler is MXNet's `kv.rank`; it need not equal the launcher's worker index.

Gradient accumulation (`grad_accum` K)
--------------------------------------
Each worker's share of a batch is cut into K micro-batches; their gradients add
up (`grad_req='add'`) and one optimizer step follows, normalised by the whole
batch, so the update equals that of one batch (memory of a micro-batch).

Mixed precision (`amp`)
-----------------------
`mxnet.contrib.amp` with float16 (dynamic loss scaling).  MXNet 1.9 has no
float16 kernels for e.g. FullyConnected on CPU, so `amp` is tried on the devices
first and refused with a clear message where unsupported.  AMP's overflow check
reads one flag per step back to the host (MXNet's implementation).
"""
import os

import numpy as np
import mxnet as mx
from mxnet import autograd

from gluon_bert.system import parse_contexts

__all__ = ['parse_contexts', 'KVSTORE_TYPES', 'Cluster', 'setup_kvstore',
           'sync_parameters', 'worker_share',
           'micro_batches', 'allreduce_sum', 'enable_grad_accumulation', 'zero_grads',
           'backward', 'check_amp_support', 'init_amp', 'init_amp_trainer', 'step_seed']

KVSTORE_TYPES = ('device', 'local', 'dist_sync', 'dist_device_sync')

# The kvstore key of the small vectors summed over workers (metrics), far above
# the parameter indices the Trainer uses as keys, and its size.
_METRIC_KEY, _METRIC_SIZE = 1 << 24, 256


class Cluster:
    """Where this process stands: the kvstore given to `gluon.Trainer` (a type
    name or an mx.kv.KVStore), its `rank` and `num_workers`."""

    def __init__(self, kvstore='device', rank=0, num_workers=1):
        self.kvstore = kvstore
        self.rank, self.num_workers = int(rank), int(num_workers)
        self._metric_ready = False

    @property
    def distributed(self):
        return isinstance(self.kvstore, mx.kv.KVStore) and 'dist' in self.kvstore.type

    @property
    def is_root(self):
        """Whether this process writes the outputs (rank 0)."""
        return self.rank == 0

    def barrier(self):
        if self.distributed:
            self.kvstore.barrier()

    def __repr__(self):
        kind = self.kvstore.type if isinstance(self.kvstore, mx.kv.KVStore) else self.kvstore
        return 'Cluster(%s, rank %d of %d)' % (kind, self.rank, self.num_workers)


def setup_kvstore(kvstore='device'):
    """A Cluster for `kvstore`: a type name of KVSTORE_TYPES, an mx.kv.KVStore or a
    Cluster (returned as is).  A `dist_*` type creates the kvstore with
    `mx.kv.create`, which joins the job of the `DMLC_*` environment."""
    if isinstance(kvstore, Cluster):
        return kvstore
    if isinstance(kvstore, mx.kv.KVStore):
        return Cluster(kvstore, kvstore.rank, kvstore.num_workers)
    if kvstore is None:
        return Cluster(None)
    if not str(kvstore).startswith('dist'):
        return Cluster(kvstore)        # 'device', 'local' (or another single-machine type)
    if kvstore not in KVSTORE_TYPES:
        raise ValueError('unsupported kvstore %r; the distributed ones are dist_sync and '
                         'dist_device_sync' % (kvstore,))
    missing = [v for v in ('DMLC_ROLE', 'DMLC_PS_ROOT_URI', 'DMLC_PS_ROOT_PORT',
                           'DMLC_NUM_WORKER', 'DMLC_NUM_SERVER') if v not in os.environ]
    if missing:
        raise RuntimeError(
            'kvstore %r needs a parameter-server job, but %s is not set; start the '
            'command with `python -m gluon_bert.launch -n WORKERS -s SERVERS -- ...` '
            "(or MXNet's tools/launch.py on a cluster)" % (kvstore, ', '.join(missing)))
    kv = mx.kv.create(kvstore)
    print('kvstore %s: worker rank %d of %d' % (kvstore, kv.rank, kv.num_workers), flush=True)
    return Cluster(kv, kv.rank, kv.num_workers)


def sync_parameters(trainer, cluster):
    """In a distributed job, create every kvstore key now, before the first step,
    with nothing else in flight: the Trainer's (every worker takes rank 0's
    parameters) and the one of `allreduce_sum`.  MXNet 1.9's dist kvstore can
    otherwise let a key's initial broadcast overlap the gradient push-pulls and
    overwrite a parameter with a summed gradient (workers whose parameters differ
    after a few steps; runs that are not reproducible)."""
    if cluster is None or not cluster.distributed:
        return
    mx.nd.waitall()
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    if trainer._params_to_init:
        trainer._init_params()
    mx.nd.waitall()
    _init_metric_key(cluster)


def worker_share(idx, cluster):
    """This worker's slice of the global batch `idx` and its weight (1.0).  A
    worker whose slice would be empty (a final batch with fewer examples than
    workers) gets the batch's first example with weight 0.0: it still pushes a
    (zero) gradient, as every worker must in a synchronous step."""
    if cluster is None or cluster.num_workers == 1:
        return idx, 1.0
    share = np.array_split(idx, cluster.num_workers)[cluster.rank]
    if len(share) == 0:
        return idx[:1], 0.0
    return share, 1.0


def micro_batches(idx, num):
    """`idx` cut into at most `num` nearly equal, non-empty, contiguous parts."""
    if num <= 1:
        return [idx]
    return [part for part in np.array_split(idx, num) if len(part)]


def _init_metric_key(cluster):
    """Create the kvstore key of `allreduce_sum` (once; a collective)."""
    if not cluster._metric_ready:
        mx.nd.waitall()           # nothing in flight while a key is created (see sync_parameters)
        cluster.kvstore.init(_METRIC_KEY, mx.nd.zeros((_METRIC_SIZE,), dtype='float64'))
        mx.nd.waitall()
        cluster._metric_ready = True


def allreduce_sum(cluster, values):
    """Sum of the float vector `values` over all workers (itself when there is one
    worker).  A collective: every worker must call it at the same point, with as
    many values.  It waits for the work in flight (call it at log, checkpoint and
    epoch ends, not every step)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if cluster is None or not cluster.distributed:
        return values
    _init_metric_key(cluster)
    mx.nd.waitall()
    sums = []
    for start in range(0, values.size, _METRIC_SIZE):
        part = values[start:start + _METRIC_SIZE]
        chunk = np.zeros(_METRIC_SIZE)
        chunk[:part.size] = part
        out = mx.nd.zeros((_METRIC_SIZE,), dtype='float64')
        cluster.kvstore.pushpull(_METRIC_KEY, mx.nd.array(chunk, dtype='float64'), out=out)
        sums.append(out.asnumpy()[:part.size])
    return np.concatenate(sums) if sums else values


def enable_grad_accumulation(params, num):
    """With `num` > 1 micro-batches, let gradients add up over backward passes."""
    if num > 1:
        for p in params.values():
            if p.grad_req != 'null':
                p.grad_req = 'add'


def zero_grads(params, num):
    """After a step with accumulated gradients, start the next one from zero."""
    if num > 1:
        params.zero_grad()


def backward(losses, trainer=None, amp=False, weight=1.0):
    """Back-propagate the device losses `losses` (recorded under
    `autograd.record`), multiplied by `weight` when it is not 1 and by AMP's loss
    scale when `amp`."""
    if weight != 1.0 or amp:
        with autograd.record():            # the scaling is part of the graph
            if weight != 1.0:
                losses = [l * weight for l in losses]
            if amp:
                from mxnet.contrib import amp as mx_amp
                with mx_amp.scale_loss(losses, trainer) as scaled:
                    losses = list(scaled)
    for l in losses:
        l.backward()


def check_amp_support(ctxs):
    """Raise RuntimeError with a clear message unless float16 training kernels run
    on every device of `ctxs` (tried on a tiny Dense layer: forward and backward)."""
    for ctx in ctxs:
        try:
            x = mx.nd.ones((2, 4), ctx=ctx, dtype='float16')
            w = mx.nd.ones((3, 4), ctx=ctx, dtype='float16')
            w.attach_grad()
            with autograd.record():
                y = mx.nd.FullyConnected(x, w, num_hidden=3, no_bias=True)
            y.backward()
            w.grad.wait_to_read()
        except mx.base.MXNetError as e:
            first = str(e).strip().splitlines()
            reason = next((line for line in reversed(first) if line.strip()), 'error')
            for _ in range(3):     # the failed operators' errors are re-raised once more
                try:
                    mx.nd.waitall()
                    break
                except mx.base.MXNetError:
                    pass
            raise RuntimeError(
                'mixed precision (--amp, float16) is not supported on %s by this MXNet '
                'build (%s); AMP needs a GPU: use --ctx gpu, or train without --amp'
                % (ctx, reason.strip())) from None


def init_amp(ctxs):
    """Check the devices, then `amp.init()` (float16), once per process: before
    the model is built, and again (a no-op) when a loop starts."""
    from mxnet.contrib import amp as mx_amp
    if mx_amp.amp._amp_initialized:
        return
    check_amp_support(ctxs)
    mx_amp.init(target_dtype='float16')


def init_amp_trainer(trainer):
    from mxnet.contrib import amp as mx_amp
    if getattr(trainer, '_amp_loss_scaler', None) is None:
        mx_amp.init_trainer(trainer)


def step_seed(seed, step, rank=0):
    """MXNet's random seed for optimizer step `step` (dropout masks): MXNet 1.x
    cannot save its generator state, so the loops reseed before every step, and a
    resumed run draws the same masks as an uninterrupted one."""
    return (int(seed) * 1000003 + int(rank) * 7919 + int(step)) % (2 ** 31 - 1)
