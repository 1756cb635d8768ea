"""Distributed data parallelism on MXNet's parameter server (kvstore dist_sync),
on loopback: 2 workers + 1 server + the scheduler, started by gluon_bert.launch.

* Both workers end with identical parameters, equal (up to float rounding) to
  one process training on the whole batches: the batch size is global and the
  update does not depend on the number of workers.
* A worker killed mid-run makes the launcher stop the job and exit non-zero
  within a bounded time (the other worker would otherwise wait for ever).

This file is also the workers' program:
    python tests/test_distributed.py worker FOLDER KVSTORE NAME [KILL_AFTER_STEPS]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import gluon_bert

# The launcher run as a file, as its docstring shows (the installed package's).
LAUNCH = os.path.join(os.path.dirname(os.path.abspath(gluon_bert.__file__)), 'launch.py')
CONFIG = dict(num_hiddens=32, ffn_num_hiddens=32, num_heads=2, num_blks=1, dropout=0.0,
              max_len=32)
# 7 steps per epoch; the last batch holds 1 example, so one worker has none of
# it and pushes a zero gradient (weight 0).
NUM_PAIRS, BATCH, EPOCHS, SEED = 145, 24, 3, 3
# SGD with momentum: the update is linear in the summed gradient, so 2 workers
# and 1 worker agree to float rounding (Adam divides near-zero gradients, such
# as the attention key bias's, by their own size, which amplifies rounding).
OPTIMIZER = dict(optimizer='sgd', lr=0.05, optimizer_params={'momentum': 0.9})


class ArrayNLI:
    """The arrays of an SNLIBERTDataset (what `finetune` reads), from an npz."""

    def __init__(self, path):
        with np.load(path) as f:
            self.all_token_ids, self.all_segments = f['tokens'], f['segments']
            self.valid_lens, self.labels = f['valid_lens'], f['labels']

    def __len__(self):
        return len(self.labels)


def build(folder):
    """The tiny synthetic task and a tiny classifier's initial parameters."""
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.data.synthetic import nli_task
    from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize
    data = nli_task(NUM_PAIRS, seed=SEED)
    vocab = build_vocab(tokenize(list(data.premises) + list(data.hypotheses)), min_freq=1)
    ds = SNLIBERTDataset(data, CONFIG['max_len'], tokenizer=WordTokenizer(vocab))
    np.savez(os.path.join(folder, 'data.npz'), tokens=ds.all_token_ids,
             segments=ds.all_segments, valid_lens=ds.valid_lens, labels=ds.labels)
    config = BERTConfig(vocab_size=len(vocab), **CONFIG)
    config.save(os.path.join(folder, 'config.json'))
    mx.random.seed(SEED)
    net = BERTClassifier(BERTModel(config))
    net.initialize(mx.init.Xavier())
    net.save_parameters(os.path.join(folder, 'init.params'))


def train(folder, kvstore, name, kill_after=0):
    """Fine-tune from `folder`'s initial parameters; write this worker's final
    parameters and summary as NAME.rankR.{params,json}."""
    import mxnet as mx
    from gluon_bert.train import devices as distributed
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.train.finetune import finetune
    from gluon_bert.train.optim import make_trainer, num_training_steps
    from gluon_bert.train.options import FinetuneArgs
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    cluster = distributed.setup_kvstore(kvstore)
    net = BERTClassifier(BERTModel(BERTConfig.load(os.path.join(folder, 'config.json'))))
    net.load_parameters(os.path.join(folder, 'init.params'), ctx=mx.cpu())
    args = FinetuneArgs(num_epochs=EPOCHS, batch_size=BATCH, seed=SEED, progress=False,
                        checkpoint_every=3, **OPTIMIZER)
    data = ArrayNLI(os.path.join(folder, 'data.npz'))
    trainer = make_trainer(net, args, num_training_steps(len(data), BATCH, EPOCHS), cluster)
    if kill_after:
        step, done = trainer.step, [0]

        def dying_step(*args, **kwargs):
            step(*args, **kwargs)
            done[0] += 1
            if cluster.rank == 1 and done[0] == kill_after:
                mx.nd.waitall()
                print('rank 1: killing myself after %d steps' % done[0], flush=True)
                os.kill(os.getpid(), 9)
        trainer.step = dying_step
    # Checkpoints every 3 steps (rank 0 writes them): the running sums are then
    # summed over the workers in the middle of the epochs too.
    summary = finetune(net, data, None, [mx.cpu()], args, cluster=cluster, trainer=trainer,
                       checkpoint_dir=os.path.join(folder, 'ck-' + name))
    base = os.path.join(folder, '%s.rank%d' % (name, cluster.rank))
    net.save_parameters(base + '.params')
    summary.pop('records')
    with open(base + '.json', 'w') as f:
        json.dump(summary, f)
    print('rank %d of %d done: loss %.4f after %d steps'
          % (cluster.rank, cluster.num_workers, summary['train_loss'], summary['steps']),
          flush=True)
    return summary


def run_launcher(folder, name, kill_after=0, timeout=80):
    env = dict(os.environ, OMP_NUM_THREADS='1', MXNET_CPU_WORKER_NTHREADS='1')
    cmd = [sys.executable, LAUNCH, '-n', '2', '-s', '1', '--timeout', str(timeout),
           '--grace', '3', '--', sys.executable, os.path.abspath(__file__), 'worker',
           str(folder), 'dist_sync', name, str(kill_after)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout + 30)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), time.monotonic() - t0


@pytest.fixture(scope='module')
def task(tmp_path_factory):
    folder = tmp_path_factory.mktemp('dist')
    build(str(folder))
    return folder


def test_two_workers_match_one_worker_on_the_whole_batch(task, load_params, max_diff):
    rc, out, seconds = run_launcher(task, 'dist')
    assert rc == 0, out
    assert '[worker 0]' in out and '[worker 1]' in out and 'of 2 done' in out, out
    p0 = load_params(str(task / 'dist.rank0.params'))
    p1 = load_params(str(task / 'dist.rank1.params'))
    assert max_diff(p0, p1) == 0.0          # the same update on every worker
    reference = train(str(task), 'device', 'single')
    ref = load_params(str(task / 'single.rank0.params'))
    init = load_params(str(task / 'init.params'))
    moved = max_diff(ref, init)
    assert moved > 1e-2                     # training did change the parameters
    diff = max_diff(p0, ref)
    print('max |2 workers - 1 worker| = %.3g (parameters moved by up to %.3g)' % (diff, moved))
    assert diff < 1e-5 * max(1.0, moved), (diff, moved)
    with open(str(task / 'dist.rank0.json')) as f:
        dist = json.load(f)
    assert dist['steps'] == reference['steps'] == EPOCHS * 7
    assert dist['num_workers'] == 2
    assert dist['train_loss'] == pytest.approx(reference['train_loss'], rel=1e-3)
    assert dist['train_acc'] == pytest.approx(reference['train_acc'], abs=1e-6)
    from gluon_bert.train import checkpoint as state
    steps = [s for s, _ in state.list_checkpoints(str(task / 'ck-dist'))]
    assert steps == [21, 18, 15]            # written once, by rank 0
    ck = load_params(os.path.join(str(task / 'ck-dist'), 'step-00000021', 'params'))
    assert max_diff(ck, p0) == 0.0


def test_killed_worker_stops_the_job(task):
    rc, out, seconds = run_launcher(task, 'killed', kill_after=3, timeout=80)
    assert rc != 0, out
    assert 'killing myself' in out, out
    assert 'exited with signal 9' in out, out
    assert seconds < 60, (seconds, out)
    assert not os.path.exists(str(task / 'killed.rank0.params'))


if __name__ == '__main__' and len(sys.argv) >= 5 and sys.argv[1] == 'worker':
    train(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 0)


def test_local_workers_share_the_cores_unless_told(tmp_path):
    import io
    from gluon_bert.system import usable_cpus
    from gluon_bert.launch import launch
    code = 'import os; print("threads", os.environ["OMP_NUM_THREADS"])'
    base = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    for env, expect in ((base, str(max(1, usable_cpus() // 2))),
                        (dict(base, OMP_NUM_THREADS='3'), '3')):
        out = io.StringIO()
        assert launch([sys.executable, '-c', code], 2, env=env, out=out, timeout=60) == 0
        assert out.getvalue().count('threads %s\n' % expect) == 2, out.getvalue()
