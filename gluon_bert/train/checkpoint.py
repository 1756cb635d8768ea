"""Training checkpoints that survive a crash, and resuming from them.

A checkpoint is a folder `OUTPUT/checkpoints/step-00001234/` holding

* `params`: the network's parameters (`save_parameters`);
* `trainer.states`: the optimizer state (`trainer.save_states`: Adam's moments
  and update counts);
* `state.json`: the step, the epoch and the number of batches of that epoch
  already done, the numpy RandomState state at the start of that epoch (the
  epoch's shuffled order is drawn from it again and the done batches skipped),
  the epoch's running sums, the metrics so far and AMP's loss scale;
* `manifest.json`, written last: the sha256 and size of each of those files.

It is written into a temporary folder (each file fsynced), then renamed into
place, so a crash never leaves a half-written checkpoint under a final name; a
checkpoint whose manifest is missing or whose files do not match it (truncated,
corrupted) is reported and skipped for the previous good one.  The last `keep`
checkpoints are kept.

MXNet 1.x cannot save the state of its random generator (dropout masks), so the
training loops reseed it before every step from (seed, step, rank); a resumed
run then draws the same masks as an uninterrupted one.
"""
import json
import os
import re
import shutil
import sys

import numpy as np
import mxnet as mx

from gluon_bert.fileio import WriteError, file_digest, write_json_atomic
from gluon_bert.train.options import computation_fields, resume_mismatch

__all__ = ['CHECKPOINT_DIR', 'CheckpointError', 'Checkpointer', 'verify_checkpoint',
           'list_checkpoints', 'rng_state_to_json', 'rng_state_from_json',
           'first_nonfinite', 'params_finite']

CHECKPOINT_DIR = 'checkpoints'
MANIFEST = 'manifest.json'
PARAMS = 'params'
TRAINER_STATES = 'trainer.states'
STATE = 'state.json'
FORMAT = 1
_NAME = re.compile(r'^step-(\d{8,})$')


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing file, wrong checksum, ...)."""


def _sha256(path):
    return file_digest(path, 'sha256')


def _fsync_file(path):
    with open(path, 'rb') as f:
        os.fsync(f.fileno())


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rng_state_to_json(state):
    """numpy RandomState.get_state() -> a JSON-able dict."""
    name, keys, pos, has_gauss, cached = state
    return {'name': name, 'keys': [int(k) for k in keys], 'pos': int(pos),
            'has_gauss': int(has_gauss), 'cached_gaussian': float(cached)}


def rng_state_from_json(d):
    return (d['name'], np.array(d['keys'], dtype=np.uint32), d['pos'], d['has_gauss'],
            d['cached_gaussian'])


def first_nonfinite(values):
    """Index of the first non-finite entry of the NDArrays (or numbers) `values`
    (one per step), or None when all are finite.  Reads them to the host."""
    if not values:
        return None
    host = np.concatenate([np.asarray(v.asnumpy() if hasattr(v, 'asnumpy') else v,
                                      dtype=np.float64).reshape(-1) for v in values])
    bad = np.flatnonzero(~np.isfinite(host))
    return None if bad.size == 0 else int(bad[0])


def params_finite(params):
    """Whether every parameter of the ParameterDict `params` is finite."""
    sums = [p.data().astype('float32').abs().sum().as_in_context(mx.cpu())
            for p in params.values() if p._data is not None]
    if not sums:
        return True
    return bool(np.isfinite(mx.nd.add_n(*sums).asscalar()))


def list_checkpoints(folder):
    """(step, path) of the checkpoint folders in `folder`, newest first."""
    if not folder or not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        m = _NAME.match(name)
        if m and os.path.isdir(os.path.join(folder, name)):
            found.append((int(m.group(1)), os.path.join(folder, name)))
    return sorted(found, reverse=True)


def verify_checkpoint(path):
    """The state dict of the checkpoint folder `path`; CheckpointError when its
    manifest is missing or unreadable or a file does not match its checksum."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.exists(manifest_path):
        raise CheckpointError('no %s (the write did not complete)' % MANIFEST)
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
        files = manifest['files']
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError('unreadable %s: %s' % (MANIFEST, e))
    for name in (PARAMS, TRAINER_STATES, STATE):
        if name not in files:
            raise CheckpointError('%s lists no %s' % (MANIFEST, name))
    for name, meta in sorted(files.items()):
        file_path = os.path.join(path, name)
        if not os.path.exists(file_path):
            raise CheckpointError('%s is missing' % name)
        size = os.path.getsize(file_path)
        if size != meta.get('bytes'):
            raise CheckpointError('%s has %d bytes, the manifest says %s (truncated?)'
                                  % (name, size, meta.get('bytes')))
        if _sha256(file_path) != meta.get('sha256'):
            raise CheckpointError('%s does not match its sha256 checksum (corrupted)' % name)
    try:
        with open(os.path.join(path, STATE)) as f:
            return json.load(f)
    except ValueError as e:
        raise CheckpointError('unreadable %s: %s' % (STATE, e))


class Checkpointer:
    """Writes and finds the checkpoints of one run in `folder`.

    `every`: also save every that many optimizer steps (0: only where the loop
    asks, e.g. at epoch ends).  `keep`: how many to keep.  `enabled`: whether
    this process writes (rank 0 of a distributed job); every process can read.
    """

    def __init__(self, folder, every=0, keep=3, enabled=True, log=None):
        if keep < 1:
            raise ValueError('keep_checkpoints must be at least 1, got %d' % keep)
        if every < 0:
            raise ValueError('checkpoint_every must be >= 0, got %d' % every)
        self.folder, self.every, self.keep, self.enabled = folder, int(every), int(keep), enabled
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.last_path = None

    def due(self, step):
        """Whether step `step` (1-based count of steps done) calls for a save."""
        return self.every > 0 and step % self.every == 0

    # -- writing -----------------------------------------------------------
    def save(self, net, trainer, state):
        """Write a checkpoint of `net`, `trainer` and the JSON-able `state` (which
        must hold 'step'); returns its folder (None when not `enabled`)."""
        if not self.enabled:
            return None
        step = int(state['step'])
        final = os.path.join(self.folder, 'step-%08d' % step)
        tmp = os.path.join(self.folder, '.tmp-step-%08d-%d' % (step, os.getpid()))
        try:
            self._write(net, trainer, state, step, final, tmp)
        except (OSError, mx.base.MXNetError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(e, WriteError):
                raise
            lines = [l for l in str(e).splitlines() if l.strip()]
            raise WriteError(final, e if isinstance(e, OSError) else
                             OSError(None, lines[-1] if lines else 'MXNet error')) from None
        _fsync_dir(self.folder)
        self.last_path = final
        self._prune()
        return final

    def _write(self, net, trainer, state, step, final, tmp):
        os.makedirs(self.folder, exist_ok=True)
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        net.save_parameters(os.path.join(tmp, PARAMS))
        trainer.save_states(os.path.join(tmp, TRAINER_STATES))
        write_json_atomic(os.path.join(tmp, STATE), dict(state, format=FORMAT))
        files = {}
        for name in (PARAMS, TRAINER_STATES, STATE):
            path = os.path.join(tmp, name)
            _fsync_file(path)
            files[name] = {'sha256': _sha256(path), 'bytes': os.path.getsize(path)}
        write_json_atomic(os.path.join(tmp, MANIFEST),
                          {'format': FORMAT, 'step': step, 'files': files})
        _fsync_dir(tmp)
        if os.path.exists(final):          # the same step saved before (e.g. a rerun)
            old = final + '.old-%d' % os.getpid()
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)

    def _prune(self):
        for _, path in list_checkpoints(self.folder)[self.keep:]:
            shutil.rmtree(path, ignore_errors=True)
        for name in os.listdir(self.folder):      # leftovers of interrupted writes
            if name.startswith('.tmp-step-') and not name.endswith('-%d' % os.getpid()):
                shutil.rmtree(os.path.join(self.folder, name), ignore_errors=True)

    def clear(self):
        """Remove every checkpoint (a fresh run over an unfinished one)."""
        if self.enabled and os.path.isdir(self.folder):
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- reading -----------------------------------------------------------
    def latest(self):
        """(path, state) of the newest checkpoint that passes its checksums, or
        None; damaged ones are reported and skipped."""
        for step, path in list_checkpoints(self.folder):
            try:
                return path, verify_checkpoint(path)
            except CheckpointError as e:
                self.log('checkpoint %s is damaged: %s; trying the previous one' % (path, e))
        return None

    def restore(self, net, trainer, ctxs, args=None):
        """Load the newest good checkpoint into `net` and `trainer`; returns its
        state dict, or None when there is none.  With `args` (the run options),
        a checkpoint written with other values of the options that change the
        computation is refused, naming each differing option."""
        found = self.latest()
        if found is None:
            self.log('no checkpoint to resume from in %s; starting from step 0' % self.folder)
            return None
        path, state = found
        if args is not None:
            saved = dict(state.get('args') or {})
            saved.setdefault('seed', state.get('seed'))
            saved.setdefault('batch_size', state.get('batch_size'))
            diff = resume_mismatch({k: v for k, v in saved.items() if v is not None}, args)
            if diff:
                raise ValueError(
                    'cannot resume from %s: it was written with %s; this run has %s. Resume '
                    'with the same options, or start over with --overwrite'
                    % (path, ', '.join('%s=%r' % (k, old) for k, old, _ in diff),
                       ', '.join('%s=%r' % (k, new) for k, _, new in diff)))
        net.load_parameters(os.path.join(path, PARAMS), ctx=ctxs)
        mx.nd.waitall()     # a distributed Trainer creates its kvstore keys here
        trainer.load_states(os.path.join(path, TRAINER_STATES))
        mx.nd.waitall()
        scaler = getattr(trainer, '_amp_loss_scaler', None)
        if scaler is not None and state.get('amp'):
            for k, v in state['amp'].items():
                setattr(scaler, k, v)
        self.last_path = path
        self.log('resuming from %s (step %d, epoch %d, batch %d)'
                 % (path, state['step'], state['epoch'] + 1, state['batch']))
        return state


def amp_state(trainer):
    """AMP's dynamic loss-scale state of `trainer` (None without AMP)."""
    scaler = getattr(trainer, '_amp_loss_scaler', None)
    if scaler is None:
        return None
    return {k: getattr(scaler, k) for k in ('_loss_scale', '_next_loss_scale', '_unskipped')}


def loop_state(step, epoch, batch, rng_state, trainer, records, args, **extra):
    """The JSON-able state of a training loop after `step` optimizer steps: in
    epoch `epoch` (0-based), `batch` batches of it done, its order drawn from the
    RandomState state `rng_state`; `args`: the run options (those that change the
    computation are saved, and compared on resume)."""
    return dict(step=int(step), epoch=int(epoch), batch=int(batch),
                rng=rng_state_to_json(rng_state), amp=amp_state(trainer),
                records=list(records), seed=args.seed, batch_size=args.batch_size,
                args=computation_fields(args), **extra)


def nonfinite_error(step, epoch, checkpointer=None, what='training loss'):
    last = checkpointer.last_path if checkpointer is not None else None
    where = ('the last good checkpoint is %s (continue with --resume, e.g. with a lower '
             '--lr)' % last) if last else 'no checkpoint of this run was written'
    return FloatingPointError('non-finite %s at step %d (epoch %d); training stopped; %s'
                              % (what, step, epoch, where))


def check_finite(values, last_step, epoch, checkpointer=None, what='training loss'):
    """Raise FloatingPointError naming the step and epoch if one of `values` (the
    losses of the steps up to `last_step`, one per step) is not finite."""
    i = first_nonfinite(values)
    if i is not None:
        raise nonfinite_error(last_step - len(values) + i + 1, epoch, checkpointer, what)


def save_if_finite(checkpointer, net, trainer, state, epoch):
    """Save a checkpoint (rank 0), after checking that the parameters are finite
    (every rank checks, so all of them stop together); `epoch` (1-based) is for
    the message."""
    if not params_finite(net.collect_params()):
        raise nonfinite_error(state['step'], epoch, checkpointer, 'parameters')
    return checkpointer.save(net, trainer, state)


def restore_loop(checkpointer, net, trainer, ctxs, rng, log, args=None):
    """Resume: load the newest good checkpoint into `net`/`trainer` (refused when
    `args` differ in an option that changes the computation), set `rng` to the
    state its epoch's order was drawn from and replay its metrics into `log`.
    Returns the state dict (None without a checkpoint)."""
    state = checkpointer.restore(net, trainer, ctxs, args)
    if state is None:
        return None
    rng.set_state(rng_state_from_json(state['rng']))
    if state.get('np_random'):
        np.random.set_state(rng_state_from_json(state['np_random']))
    for record in state.get('records', []):
        log.write(**record)
    return state


def prepare_checkpoint_dir(output, resume=False, overwrite=False, is_root=True):
    """The checkpoint folder of the run in `output`.  Checkpoints left by an
    unfinished run are never silently discarded: they are resumed (`resume`),
    replaced (`overwrite`), or the run is refused."""
    folder = os.path.join(output, CHECKPOINT_DIR)
    existing = list_checkpoints(folder)
    if existing and not resume:
        if not overwrite:
            raise FileExistsError(
                '%s holds checkpoints of an earlier run (newest: %s); pass --resume to '
                'continue it or --overwrite to start over' % (folder, existing[0][1]))
        if is_root:
            shutil.rmtree(folder, ignore_errors=True)
    return folder
