"""Fine-tuning controls: the optimizer and its learning-rate schedule as options.

`make_trainer` returns a `gluon.Trainer` for a BERTClassifier (or any block with
gluon_bert's structural parameter names):

* weight decay, decoupled (AdamW: GluonNLP's `BERTAdam`), never on biases and
  LayerNorm parameters (`wd_mult = 0`);
* a learning-rate schedule: linear warmup over `warmup_ratio * num_steps` steps,
  then linear decay to 0 at `num_steps` (`WarmupLinearScheduler`, an MXNet
  `LRScheduler`);
* a separate learning rate for the new classification head (`output.*`), through
  `param.lr_mult`;
* frozen embeddings and/or encoder blocks (`grad_req = 'null'`).

With the defaults it is the chapter's trainer: plain Adam at a constant lr 1e-4.
"""
from mxnet import gluon, lr_scheduler

__all__ = ['make_trainer', 'WarmupLinearScheduler', 'no_decay', 'embedding_param_names',
           'freeze', 'num_training_steps']

HEAD_PREFIX = 'output.'
EMBEDDING_PREFIXES = ('encoder.token_embedding.', 'encoder.segment_embedding.',
                      'encoder.pos_embedding', 'encoder.embed_ln.')


class WarmupLinearScheduler(lr_scheduler.LRScheduler):
    """Linear warmup from 0 to `base_lr` over `warmup_steps` updates, then (with
    `decay='linear'`) linear decay to `final_lr` at update `num_steps`, or (with
    `decay='constant'`) `base_lr` from then on.  Update numbers count from 1, as
    MXNet's optimizers call the scheduler."""

    def __init__(self, num_steps, base_lr=0.01, warmup_steps=0, decay='linear', final_lr=0.0):
        super().__init__(base_lr=base_lr)
        num_steps, warmup_steps = int(num_steps), int(warmup_steps)
        if num_steps < 1:
            raise ValueError('num_steps must be positive, got %d' % num_steps)
        if not 0 <= warmup_steps <= num_steps:
            raise ValueError('warmup_steps must be in [0, num_steps=%d], got %d'
                             % (num_steps, warmup_steps))
        if decay not in ('linear', 'constant'):
            raise ValueError("decay must be 'linear' or 'constant', not %r" % decay)
        self.num_steps = num_steps
        self.warmup = warmup_steps
        self.decay = decay
        self.final_lr = final_lr

    def __call__(self, num_update):
        if num_update < self.warmup:
            return self.base_lr * num_update / self.warmup
        if self.decay == 'constant' or self.num_steps == self.warmup:
            return self.base_lr
        frac = min(1.0, (num_update - self.warmup) / (self.num_steps - self.warmup))
        return self.base_lr + (self.final_lr - self.base_lr) * frac


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
    num_blks = len({n.split('.')[2] for n in params if n.startswith('encoder.blks.')})
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


def num_training_steps(num_examples, batch_size, num_epochs):
    """Number of optimizer steps: epochs * ceil(examples / batch size)."""
    return int(num_epochs) * -(-int(num_examples) // int(batch_size))


def make_trainer(net, lr=1e-4, num_steps=None, optimizer='adam', weight_decay=0.0,
                 warmup_ratio=0.0, head_lr=None, freeze_embeddings=False, freeze_layers=(),
                 lr_schedule='auto', kvstore='device', optimizer_params=None):
    """A `gluon.Trainer` over the trainable parameters of `net`.

    optimizer: 'adam' (Adam; with `weight_decay` > 0 it is AdamW, GluonNLP's
        `BERTAdam`, whose decay is decoupled from the gradient), 'adamw'/'bertadam'
        (always BERTAdam), or any other MXNet optimizer name (its own `wd`).
    weight_decay: applied to all parameters but biases and LayerNorm gamma/beta.
    warmup_ratio: fraction of `num_steps` with a linear warmup.
    lr_schedule: 'constant', 'linear' (decay to 0 at `num_steps` after the warmup),
        or 'auto': 'linear' when there is a warmup, else 'constant' (the chapter).
    head_lr: learning rate of the new head `output.*` (lr_mult = head_lr / lr).
    freeze_embeddings / freeze_layers: parameters that are not trained at all.
    """
    params = _named_params(net)
    if lr <= 0:
        raise ValueError('lr must be positive, got %g' % lr)
    if weight_decay < 0:
        raise ValueError('weight_decay must be non-negative, got %g' % weight_decay)
    if not 0.0 <= warmup_ratio < 1.0:
        raise ValueError('warmup_ratio must be in [0, 1), got %g' % warmup_ratio)
    if lr_schedule not in ('auto', 'constant', 'linear'):
        raise ValueError("lr_schedule must be 'auto', 'constant' or 'linear', not %r"
                         % lr_schedule)
    if lr_schedule == 'auto':
        lr_schedule = 'linear' if warmup_ratio > 0 else 'constant'

    freeze(net, freeze_embeddings, freeze_layers)
    for name, param in params.items():
        if no_decay(name):
            param.wd_mult = 0.0
    if head_lr is not None:
        if head_lr <= 0:
            raise ValueError('head_lr must be positive, got %g' % head_lr)
        head = [n for n in params if n.startswith(HEAD_PREFIX)]
        if not head:
            raise ValueError('head_lr given but the network has no %s* parameters' % HEAD_PREFIX)
        for name in head:
            params[name].lr_mult = head_lr / lr

    opt_params = dict(optimizer_params or {})
    opt_params['learning_rate'] = lr
    name = optimizer.lower()
    if name in ('adamw', 'bertadam') or (name == 'adam' and weight_decay > 0):
        import gluonnlp.optimizer  # noqa: F401  (registers 'bertadam')
        name = 'bertadam'
    if weight_decay > 0:
        opt_params['wd'] = weight_decay
    if lr_schedule != 'constant' or warmup_ratio > 0:
        if not num_steps:
            raise ValueError('a learning-rate schedule needs num_steps')
        opt_params['lr_scheduler'] = WarmupLinearScheduler(
            num_steps, lr, int(round(warmup_ratio * num_steps)), decay=lr_schedule)
    trainable = [p for p in params.values() if p.grad_req != 'null']
    if not trainable:
        raise ValueError('every parameter is frozen')
    return gluon.Trainer(trainable, name, opt_params, kvstore=kvstore)
