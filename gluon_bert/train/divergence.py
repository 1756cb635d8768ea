"""Divergence: a training loss that rises far above where it started.

The rule: the mean training loss of a logged interval (pretraining: the MLM +
NSP loss over `--log-interval` steps; fine-tuning: the epoch's loss) above
`--divergence-factor` (default 3) times that of the first logged interval of
the run.  The run then prints one warning (the first time), or, with
`--stop-on-divergence`, stops with a `DivergenceError` naming the step and both
values.  A non-finite loss stops the run in any case (see checkpoint.py).
"""
import sys

__all__ = ['DivergenceError', 'DivergenceCheck']


class DivergenceError(FloatingPointError):
    """The training loss diverged and --stop-on-divergence is set."""


class DivergenceCheck:
    """Applies the rule to the records of a run: `check(records, loss_of,
    where_of)`, where `loss_of(record)` is its training loss and
    `where_of(record)` says where it was measured ('step 50', 'epoch 2')."""

    def __init__(self, factor, stop=False, checkpointer=None, out=None):
        self.factor, self.stop, self.checkpointer = factor, stop, checkpointer
        self.out = out or sys.stderr
        self.warned = False

    def check(self, records, loss_of, where_of):
        if not self.factor or len(records) < 2:
            return
        first, last = loss_of(records[0]), loss_of(records[-1])
        if first is None or last is None or not last > self.factor * first:
            return
        message = ('the training loss diverges: %.4g at %s is more than %g times its '
                   'first logged value %.4g (%s)' % (last, where_of(records[-1]), self.factor,
                                                     first, where_of(records[0])))
        if self.stop:
            last_ckpt = getattr(self.checkpointer, 'last_path', None)
            raise DivergenceError('%s; training stopped (--stop-on-divergence); %s' % (
                message, 'the last checkpoint is %s (continue with --resume, e.g. with a '
                'lower --lr)' % last_ckpt if last_ckpt else 'no checkpoint of this run was '
                'written'))
        if not self.warned:
            self.warned = True
            print('warning: %s; lower --lr, or --stop-on-divergence to stop such a run '
                  '(warned once)' % message, file=self.out, flush=True)
