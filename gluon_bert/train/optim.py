"""The optimizer of both jobs, and its learning-rate schedule, from the run options.

`make_trainer` returns the `gluon.Trainer` of a BERTModel or BERTClassifier (or any
block with gluon_bert's structural parameter names):

* weight decay, decoupled (AdamW: GluonNLP's `BERTAdam`), never on biases and
  LayerNorm parameters (`wd_mult = 0`);
* a learning-rate schedule: linear warmup over `warmup_ratio * num_steps` steps,
  then linear decay to 0 at `num_steps` (MXNet's `PolyScheduler`);
* a separate learning rate for the new classification head (`output.*`, `pool.*`), through
  `param.lr_mult`;
* layer-wise learning-rate decay: encoder block k from the top at `lr * decay**k`,
  the embeddings at `lr * decay**num_blocks` (`param.lr_mult`, `layer_lr_mults`);
* frozen embeddings and/or encoder blocks (`grad_req = 'null'`).

With the defaults it is the chapter's trainer: plain Adam at a constant learning rate.
"""
from mxnet import gluon, lr_scheduler

from gluon_bert.train.devices import setup_kvstore

__all__ = ['make_trainer', 'lr_schedule', 'WarmupStableDecay', 'LR_SCHEDULES', 'no_decay',
           'embedding_param_names', 'freeze', 'num_training_steps', 'layer_lr_mults']

# The new head: the output layer and the pooling block of the heads of model.heads.
HEAD_PREFIX = ('output.', 'pool.')
EMBEDDING_PREFIXES = ('encoder.token_embedding.', 'encoder.segment_embedding.',
                      'encoder.pos_embedding', 'encoder.embed_ln.')


class WarmupStableDecay(lr_scheduler.LRScheduler):
    """MXNet's linear warmup over `warmup_steps` updates, then `base_lr` until
    update `decay_start`, then linear decay to `final_lr` at update `num_steps`
    (the "warmup-stable-decay" schedule: a constant rate for most of the run,
    annealed at its end)."""

    def __init__(self, num_steps, decay_start, base_lr, final_lr=0.0, warmup_steps=0):
        super().__init__(base_lr, warmup_steps)
        if not warmup_steps <= decay_start < num_steps:
            raise ValueError('the decay must start after the warmup (%d) and before the last '
                             'update (%d), not at %d' % (warmup_steps, num_steps, decay_start))
        self.num_steps, self.decay_start, self.final_lr = num_steps, decay_start, final_lr

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.decay_start:
            return self.base_lr
        done = min(1.0, (num_update - self.decay_start) / (self.num_steps - self.decay_start))
        return self.base_lr + (self.final_lr - self.base_lr) * done


LR_SCHEDULES = ('linear', 'constant', 'wsd')


def lr_schedule(num_steps, base_lr, warmup_steps=0, decay='linear', final_lr=0.0,
                decay_steps=0):
    """MXNet's scheduler for a linear warmup from 0 to `base_lr` over
    `warmup_steps` updates, then (`decay='linear'`) linear decay to `final_lr` at
    update `num_steps` (`mx.lr_scheduler.PolyScheduler` with power 1),
    (`decay='constant'`) `base_lr` from then on (`FactorScheduler` with factor 1),
    or (`decay='wsd'`) `base_lr` until the last `decay_steps` updates, which decay
    linearly to `final_lr` (`WarmupStableDecay`).  Update numbers count from 1, as
    MXNet's optimizers call the scheduler."""
    num_steps, warmup_steps, decay_steps = int(num_steps), int(warmup_steps), int(decay_steps)
    if num_steps < 1:
        raise ValueError('num_steps must be positive, got %d' % num_steps)
    if not 0 <= warmup_steps <= num_steps:
        raise ValueError('warmup_steps must be in [0, num_steps=%d], got %d'
                         % (num_steps, warmup_steps))
    if decay not in LR_SCHEDULES:
        raise ValueError('decay must be one of %s, not %r' % (', '.join(LR_SCHEDULES), decay))
    if decay == 'wsd':
        if not 0 < decay_steps <= num_steps - warmup_steps:
            raise ValueError('decay_steps must be in [1, num_steps - warmup_steps = %d], got %d'
                             % (num_steps - warmup_steps, decay_steps))
        return WarmupStableDecay(num_steps, num_steps - decay_steps, base_lr, final_lr,
                                 warmup_steps)
    if decay == 'constant' or warmup_steps == num_steps:
        return lr_scheduler.FactorScheduler(step=2 ** 62, factor=1.0, base_lr=base_lr,
                                            warmup_steps=warmup_steps)
    return lr_scheduler.PolyScheduler(num_steps, base_lr, pwr=1, final_lr=final_lr,
                                      warmup_steps=warmup_steps)


def _named_params(net):
    return net._collect_params_with_prefix()


def no_decay(name):
    """Whether the parameter `name` is exempt from weight decay (biases, LayerNorm)."""
    return name.endswith(('.bias', '.gamma', '.beta'))


def embedding_param_names(net):
    return [n for n in _named_params(net) if n.startswith(EMBEDDING_PREFIXES)]


def freeze(net, embeddings=False, layers=()):
    """Set `grad_req='null'` on the embeddings and/or the encoder blocks `layers`
    (indices; negative ones count from the last block).  Returns the frozen names."""
    params = _named_params(net)
    num_blks = _num_blocks(params)
    blocks = set()
    for i in layers or ():
        i = int(i)
        if not -num_blks <= i < num_blks:
            raise ValueError('cannot freeze layer %d: the encoder has %d layers' % (i, num_blks))
        blocks.add(i % num_blks)
    frozen = []
    for name, param in params.items():
        hit = embeddings and name.startswith(EMBEDDING_PREFIXES)
        if not hit and name.startswith('encoder.blks.'):
            hit = int(name.split('.')[2]) in blocks
        if hit:
            param.grad_req = 'null'
            frozen.append(name)
    return frozen


def _num_blocks(params):
    return len({n.split('.')[2] for n in params if n.startswith('encoder.blks.')})


def layer_lr_mults(net, decay):
    """{parameter name: lr_mult} of layer-wise learning-rate decay `decay`: encoder
    block i of N (0 the lowest) at `decay ** (N - 1 - i)`, the rest of the
    encoder (its embeddings) at `decay ** N`, every other parameter (the head) 1."""
    params = _named_params(net)
    num_blks = _num_blocks(params)
    mults = {}
    for name in params:
        if name.startswith('encoder.blks.'):
            mults[name] = decay ** (num_blks - 1 - int(name.split('.')[2]))
        elif name.startswith('encoder.'):
            mults[name] = decay ** num_blks
        else:
            mults[name] = 1.0
    return mults


def num_training_steps(num_examples, batch_size, num_epochs):
    """Number of optimizer steps: epochs * ceil(examples / batch size)."""
    return int(num_epochs) * -(-int(num_examples) // int(batch_size))


def make_trainer(net, args, num_steps=None, cluster=None):
    """The `gluon.Trainer` of a run: over the trainable parameters of `net`, with
    the optimizer options of `args` (a `TrainArgs`), the schedule over
    `num_steps` updates and the kvstore of `cluster` (a `devices.Cluster`, a
    kvstore type name or None).  Workers update their own parameters
    (`update_on_kvstore=False`, as GluonNLP's BERT scripts), so optimizer states
    are local and can be checkpointed.

    optimizer: 'adam' (Adam; with `weight_decay` > 0 it is AdamW, GluonNLP's
        `BERTAdam`, whose decay is decoupled from the gradient), 'adamw'/'bertadam'
        (always BERTAdam), or any other MXNet optimizer name (its own `wd`).
    weight_decay: applied to all parameters but biases and LayerNorm gamma/beta.
    warmup_ratio: fraction of `num_steps` with a linear warmup.
    lr_schedule: 'constant', 'linear' (decay to 0 at `num_steps` after the warmup),
        'wsd' (constant after the warmup, then linear decay to 0 over the last
        `decay_ratio` of the steps), or 'auto': 'linear' when there is a warmup,
        else 'constant' (the chapter).
    Fine-tuning only (`FinetuneArgs`): `head_lr`, the learning rate of the new head
    `output.*` (lr_mult = head_lr / lr); `layer_lr_decay` (see `layer_lr_mults`;
    1: off); `freeze_embeddings` / `freeze_layers`, parameters that are not
    trained at all.
    """
    lr, weight_decay, warmup_ratio = args.lr, args.weight_decay, args.warmup_ratio
    schedule = args.lr_schedule
    head_lr = getattr(args, 'head_lr', None)
    params = _named_params(net)
    if lr < 0:
        raise ValueError('lr must be non-negative, got %g' % lr)
    if weight_decay < 0:
        raise ValueError('weight_decay must be non-negative, got %g' % weight_decay)
    if not 0.0 <= warmup_ratio < 1.0:
        raise ValueError('warmup_ratio must be in [0, 1), got %g' % warmup_ratio)
    if schedule not in ('auto',) + LR_SCHEDULES:
        raise ValueError('lr_schedule must be one of auto, %s, not %r'
                         % (', '.join(LR_SCHEDULES), schedule))
    decay_ratio = getattr(args, 'decay_ratio', 0.2)
    if schedule == 'wsd' and not 0.0 < decay_ratio <= 1.0 - warmup_ratio:
        raise ValueError('decay_ratio must be in (0, 1 - warmup_ratio = %g], got %g'
                         % (1.0 - warmup_ratio, decay_ratio))
    if schedule == 'auto':
        schedule = 'linear' if warmup_ratio > 0 else 'constant'

    freeze(net, getattr(args, 'freeze_embeddings', False), getattr(args, 'freeze_layers', ()))
    for name, param in params.items():
        if no_decay(name):
            param.wd_mult = 0.0
    layer_decay = getattr(args, 'layer_lr_decay', 1.0)
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError('layer_lr_decay must be in (0, 1], got %g' % layer_decay)
    if layer_decay != 1.0:
        for name, mult in layer_lr_mults(net, layer_decay).items():
            params[name].lr_mult = mult
    if head_lr is not None:
        if head_lr <= 0 or lr <= 0:
            raise ValueError('head_lr and lr must be positive, got %g and %g' % (head_lr, lr))
        head = [n for n in params if n.startswith(HEAD_PREFIX)]
        if not head:
            raise ValueError('head_lr given but the network has no %s* parameters'
                             % '*, '.join(HEAD_PREFIX))
        for name in head:
            params[name].lr_mult = head_lr / lr

    opt_params = dict(args.optimizer_params or {})
    for key, option in (('learning_rate', 'lr'), ('wd', 'weight_decay'),
                        ('lr_scheduler', 'lr_schedule')):
        if key in opt_params:
            raise ValueError('optimizer_params must not set %r: use the %s option'
                             % (key, option))
    opt_params['learning_rate'] = lr
    name = args.optimizer.lower()
    if name in ('adamw', 'bertadam') or (name == 'adam' and weight_decay > 0):
        import gluonnlp.optimizer  # noqa: F401  (registers 'bertadam')
        name = 'bertadam'
    if weight_decay > 0:
        opt_params['wd'] = weight_decay
    if schedule != 'constant' or warmup_ratio > 0:
        if not num_steps:
            raise ValueError('a learning-rate schedule needs num_steps')
        warmup_steps = int(round(warmup_ratio * num_steps))
        opt_params['lr_scheduler'] = lr_schedule(
            num_steps, lr, warmup_steps, decay=schedule,
            decay_steps=min(max(1, int(round(decay_ratio * num_steps))),
                            num_steps - warmup_steps))
    trainable = [p for p in params.values() if p.grad_req != 'null']
    if not trainable:
        raise ValueError('every parameter is frozen')
    cluster = setup_kvstore(cluster)
    return gluon.Trainer(trainable, name, opt_params, kvstore=cluster.kvstore,
                         update_on_kvstore=False)
