"""Never lose work: checkpoints, resuming after a crash, damaged checkpoints and
non-finite losses.

* A fine-tuning process killed with SIGKILL in the middle of an epoch, resumed
  with --resume, ends with the same parameters as an uninterrupted run with the
  same seed (dropout on: the masks are reseeded per step).
* Pretraining interrupted and resumed gives the same model too.
* A truncated or corrupted checkpoint is detected by its checksum and skipped,
  with a message, for the previous good one.
* A non-finite loss stops training with the step and the epoch; the last good
  checkpoint stays.

This file is also a helper program:
    python tests/test_resume.py finetune-killed KILL_AFTER_STEPS SCRIPT_ARGS...
runs `gluon-bert finetune SCRIPT_ARGS...` (what scripts/finetune_snli.py runs)
and SIGKILLs itself after that many steps.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

TINY = dict(num_hiddens=32, ffn_num_hiddens=32, num_heads=2, num_blks=1, dropout=0.2,
            max_len=32)


def on_trainer_steps(after_step):
    """Call `after_step(n)` right after the n-th `gluon.Trainer.step` of this
    process (every trainer's); returns the pytest MonkeyPatch whose undo() stops it."""
    from mxnet import gluon
    step, done = gluon.Trainer.step, [0]

    def counting_step(self, *args, **kwargs):
        step(self, *args, **kwargs)
        done[0] += 1
        after_step(done[0])
    patch = pytest.MonkeyPatch()
    patch.setattr(gluon.Trainer, 'step', counting_step)
    return patch


def kill_after(num_steps):
    """SIGKILL this process right after its `num_steps`-th optimizer step."""
    import mxnet as mx

    def die(done):
        if done == num_steps:
            mx.nd.waitall()
            print('killing myself after step %d' % done, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    on_trainer_steps(die)


# ---------------------------------------------------------------------------
# Fine-tuning, killed with SIGKILL mid-epoch, through the script


def script_args(pretrained, output):
    # 120 pairs, batch 16, 10 length buckets (the sampler state is resumed too):
    # 8 steps per epoch, 24 in all; checkpoints every 3
    # steps and at epoch ends (3, 6, 8, 9, 12, ...).
    return ['--pretrained', pretrained, '--dataset', 'synthetic', '--max-train-examples',
            '120', '--max-test-examples', '30', '--max-len', '32', '--batch-size', '16',
            '--num-epochs', '3', '--lr', '2e-3', '--seed', '7', '--checkpoint-every', '3',
            '--keep-checkpoints', '2', '--num-workers', '1', '--no-progress', '--bucket', '10',
            '--output', output]


def test_killed_finetuning_resumes_to_the_same_parameters(tmp_path, capsys, tiny_pretrained,
                                                          load_params, max_diff):
    from gluon_bert.cli import finetune_main
    from gluon_bert.train import checkpoint as state
    pretrained = tiny_pretrained(str(tmp_path / 'pre'), seed=11, dropout=TINY['dropout'])
    whole, resumed = str(tmp_path / 'whole'), str(tmp_path / 'resumed')
    finetune_main(script_args(pretrained, whole))

    proc = subprocess.run([sys.executable, os.path.abspath(__file__), 'finetune-killed', '11']
                          + script_args(pretrained, resumed), timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode('utf-8', 'replace')
    assert proc.returncode == -signal.SIGKILL, out
    assert 'killing myself after step 11' in out
    assert not os.path.exists(os.path.join(resumed, 'metrics.json'))   # not finished
    steps = [s for s, _ in state.list_checkpoints(os.path.join(resumed, 'checkpoints'))]
    assert steps == [9, 8]                    # --keep-checkpoints 2; step 9: epoch 2, batch 1

    # Without --resume the unfinished run is not overwritten by a fresh one.
    with pytest.raises(FileExistsError, match='--resume'):
        finetune_main(script_args(pretrained, resumed))
    capsys.readouterr()
    finetune_main(script_args(pretrained, resumed) + ['--resume'])
    err = capsys.readouterr().err
    assert 'resuming from' in err and 'step-00000009' in err

    a = load_params(os.path.join(whole, 'classifier.params'))
    b = load_params(os.path.join(resumed, 'classifier.params'))
    diff = max_diff(a, b)
    print('max |resumed - uninterrupted| = %.3g' % diff)
    assert diff <= 1e-6
    with open(os.path.join(whole, 'metrics.json')) as f:
        m_whole = json.load(f)
    with open(os.path.join(resumed, 'metrics.json')) as f:
        m_resumed = json.load(f)
    assert m_resumed['train_loss'] == pytest.approx(m_whole['train_loss'], rel=1e-6)
    assert m_resumed['test_acc'] == pytest.approx(m_whole['test_acc'])
    with open(os.path.join(resumed, 'metrics.jsonl')) as f:
        assert [json.loads(line)['epoch'] for line in f] == [1, 2, 3]


# ---------------------------------------------------------------------------
# In-process runs on a tiny task (crash = an exception after some step)


class Crash(Exception):
    pass


@pytest.fixture(scope='module')
def nli(nli_arrays):
    return nli_arrays(120, seed=1)


def classifier(vocab_size, seed=3):
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    mx.random.seed(seed)
    net = BERTClassifier(BERTModel(BERTConfig(vocab_size=vocab_size, **TINY)))
    net.initialize(mx.init.Xavier())
    return net


def run_finetune(nli, folder, crash_after=None, on_step=None, **kwargs):
    """Fine-tune a fresh tiny classifier (120 pairs, batch 24: 5 steps per epoch);
    raise Crash after `crash_after` steps.  Returns (net, summary or None)."""
    import mxnet as mx
    from gluon_bert.train.finetune import finetune
    from gluon_bert.train.options import FinetuneArgs
    data, vocab_size = nli
    net = classifier(vocab_size)

    def after_step(done):
        if on_step is not None:
            on_step(done, net)
        if done == crash_after:
            raise Crash()
    args = dict(num_epochs=2, batch_size=24, lr=2e-3, seed=4, progress=False,
                checkpoint_every=2, keep_checkpoints=3)
    args.update(kwargs)
    patch = on_trainer_steps(after_step)
    try:
        summary = finetune(net, data, None, [mx.cpu()], FinetuneArgs(**args),
                           checkpoint_dir=folder)
    except Crash:
        summary = None
    finally:
        patch.undo()
    return net, summary


def test_checkpoint_layout_keep_and_atomic_leftovers(nli, tmp_path):
    from gluon_bert.train import checkpoint as state
    folder = str(tmp_path / 'ck')
    os.makedirs(folder)
    os.makedirs(os.path.join(folder, '.tmp-step-00000004-999999'))   # an interrupted write
    run_finetune(nli, folder)
    # steps 2, 4, 5 (epoch end), 6, 8, 10 (epoch end); the last 3 kept
    assert [s for s, _ in state.list_checkpoints(folder)] == [10, 8, 6]
    assert sorted(os.listdir(folder)) == ['step-00000006', 'step-00000008', 'step-00000010']
    path = os.path.join(folder, 'step-00000008')
    with open(os.path.join(path, 'manifest.json')) as f:
        manifest = json.load(f)
    assert sorted(manifest['files']) == ['params', 'state.json', 'trainer.states']
    assert all(len(m['sha256']) == 64 for m in manifest['files'].values())
    st = state.verify_checkpoint(path)
    assert (st['step'], st['epoch'], st['batch']) == (8, 1, 3)     # epoch 2, 3 batches done
    assert st['seed'] == 4 and st['batch_size'] == 24 and len(st['rng']['keys']) == 624
    st = state.verify_checkpoint(os.path.join(folder, 'step-00000010'))
    assert (st['step'], st['epoch'], st['batch']) == (10, 2, 0)


def test_crash_and_resume_in_process(nli, tmp_path, params_of, max_diff):
    whole, _ = run_finetune(nli, str(tmp_path / 'a'))
    run_finetune(nli, str(tmp_path / 'b'), crash_after=7)        # last checkpoint: step 6
    resumed, summary = run_finetune(nli, str(tmp_path / 'b'), resume=True)
    assert summary['steps'] == 10 and [r['epoch'] for r in summary['records']] == [1, 2]
    assert max_diff(params_of(whole), params_of(resumed)) == 0.0


def _damage(path, how):
    if how == 'truncate':
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 2)
    elif how == 'flip':
        with open(path, 'r+b') as f:
            f.seek(os.path.getsize(path) // 2)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0xFF]))
    else:
        os.remove(path)


def test_damaged_checkpoints_are_skipped_for_the_previous_good_one(nli, tmp_path, capsys):
    from gluon_bert.train import checkpoint as state
    whole, _ = run_finetune(nli, str(tmp_path / 'a'))
    folder = str(tmp_path / 'b')
    run_finetune(nli, folder, crash_after=9)          # checkpoints 4, 5, 6, 8 -> keep 5, 6, 8
    assert [s for s, _ in state.list_checkpoints(folder)] == [8, 6, 5]
    _damage(os.path.join(folder, 'step-00000008', 'params'), 'flip')
    _damage(os.path.join(folder, 'step-00000006', 'trainer.states'), 'truncate')
    checkpointer = state.Checkpointer(folder)
    capsys.readouterr()
    path, st = checkpointer.latest()
    err = capsys.readouterr().err
    assert path.endswith('step-00000005') and st['step'] == 5
    assert 'step-00000008 is damaged: params does not match its sha256 checksum' in err
    assert 'step-00000006 is damaged: trainer.states has' in err and 'truncated' in err
    # A checkpoint whose write never completed (no manifest) is skipped as well.
    _damage(os.path.join(folder, 'step-00000005', 'manifest.json'), 'remove')
    assert checkpointer.latest() is None
    assert 'no manifest.json' in capsys.readouterr().err


def test_resume_from_previous_good_checkpoint_matches(nli, tmp_path, capsys, params_of,
                                                     max_diff):
    whole, _ = run_finetune(nli, str(tmp_path / 'a'))
    folder = str(tmp_path / 'b')
    run_finetune(nli, folder, crash_after=9)          # checkpoints 5, 6, 8
    _damage(os.path.join(folder, 'step-00000008', 'state.json'), 'truncate')
    resumed, summary = run_finetune(nli, folder, resume=True)
    err = capsys.readouterr().err
    assert 'step-00000008 is damaged' in err and 'resuming from' in err
    assert 'step-00000006' in err
    assert max_diff(params_of(whole), params_of(resumed)) == 0.0


def test_resume_refuses_another_batch_size(nli, tmp_path):
    folder = str(tmp_path / 'b')
    run_finetune(nli, folder, crash_after=3)
    with pytest.raises(ValueError, match='batch_size=24.*batch_size=12'):
        run_finetune(nli, folder, resume=True, batch_size=12)


@pytest.mark.parametrize('changed, message', [
    (dict(lr=1e-6), r'lr=0\.002.*this run has lr=1e-06'),
    (dict(num_epochs=3, weight_decay=0.1), r'weight_decay=0\.0, num_epochs=2;.*'
                                           r'weight_decay=0\.1, num_epochs=3'),
])
def test_resume_refuses_changed_options_naming_them(nli, tmp_path, changed, message):
    """Regression: a run resumed with another --lr silently went on with the
    learning rate of its checkpoint."""
    folder = str(tmp_path / 'b')
    run_finetune(nli, folder, crash_after=3)
    with pytest.raises(ValueError, match=message):
        run_finetune(nli, folder, resume=True, **changed)
    # Options that do not change the computation may differ.
    _, summary = run_finetune(nli, folder, resume=True, keep_checkpoints=5, progress=True)
    assert summary['steps'] == 10


def test_nonfinite_loss_stops_with_step_and_epoch(nli, tmp_path):
    """A parameter turned NaN after step 7 (epoch 2): the loss of step 8 is NaN;
    the epoch-end check names it, and the epoch-1 checkpoint stays the last one."""
    import mxnet as mx
    from gluon_bert.train import checkpoint as state
    folder = str(tmp_path / 'nan')

    def poison(step, net):
        if step == 7:
            net.output.bias.set_data(mx.nd.full((3,), float('nan')))
    with pytest.raises(FloatingPointError) as info:
        run_finetune(nli, folder, on_step=poison, checkpoint_every=0)
    message = str(info.value)
    assert 'non-finite training loss at step 8 (epoch 2)' in message
    assert 'step-00000005' in message
    path, st = state.Checkpointer(folder).latest()
    assert st['step'] == 5 and [s for s, _ in state.list_checkpoints(folder)] == [5]
    assert all(np.isfinite(v.asnumpy()).all() for v in mx.nd.load(os.path.join(path, 'params')).values())

    # With step checkpoints, the parameters are checked before every save.
    folder = str(tmp_path / 'nan2')

    def poison_now(step, net):          # after the update of step 4, before its checkpoint
        if step == 4:
            net.output.bias.set_data(mx.nd.full((3,), float('inf')))
    with pytest.raises(FloatingPointError, match=r'non-finite parameters at step 4 \(epoch 1\)'):
        run_finetune(nli, folder, on_step=poison_now)
    assert [s for s, _ in state.list_checkpoints(folder)] == [2]


# ---------------------------------------------------------------------------
# Pretraining


@pytest.fixture(scope='module')
def wiki(tmp_path_factory):
    from gluon_bert.data.synthetic import write_wikitext
    from gluon_bert.data.wikitext import WikiTextDataset, read_wiki
    folder = str(tmp_path_factory.mktemp('wiki'))
    write_wikitext(folder, 60, seed=0)
    return WikiTextDataset(read_wiki(folder, seed=0), max_len=32, seed=0)


def run_pretrain(data, folder, crash_after=None, **kwargs):
    import mxnet as mx
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.model.bert import BERTModel
    from gluon_bert.train.pretrain import pretrain
    from gluon_bert.train.options import PretrainArgs
    mx.random.seed(5)
    net = BERTModel(BERTConfig(vocab_size=len(data.vocab), **TINY))
    net.initialize(mx.init.Xavier())

    def after_step(done):
        if done == crash_after:
            raise Crash()
    patch = on_trainer_steps(after_step)
    try:
        args = PretrainArgs(num_steps=kwargs.pop('num_steps', 14), batch_size=32, lr=2e-3,
                            seed=2, log_interval=4, progress=False, checkpoint_every=3,
                            **kwargs)
        summary = pretrain(net, data, [mx.cpu()], args, checkpoint_dir=folder)
    except Crash:
        summary = None
    finally:
        patch.undo()
    return net, summary


@pytest.mark.parametrize('bucket', [0, 4])
def test_pretraining_resumes_to_the_same_model(wiki, tmp_path, bucket, params_of, max_diff):
    """Also with length buckets, whose order comes from numpy's global RNG."""
    from gluon_bert.train import checkpoint as state
    from gluon_bert.data.batching import iterate_batches, length_buckets
    steps_per_pass = len(list(iterate_batches(len(wiki), 32, True, np.random.RandomState(0),
                                              length_buckets(wiki.valid_lens, 32, bucket, 0))))
    assert 3 <= steps_per_pass < 14              # the run spans several passes
    whole, s_whole = run_pretrain(wiki, str(tmp_path / 'a'), bucket=bucket)
    folder = str(tmp_path / 'b')
    run_pretrain(wiki, folder, crash_after=8, bucket=bucket)
    latest = state.list_checkpoints(folder)[0][0]
    assert latest < 8
    np.random.seed(123)                          # another process would start elsewhere
    resumed, s_resumed = run_pretrain(wiki, folder, resume=True, bucket=bucket)
    assert max_diff(params_of(whole), params_of(resumed)) == 0.0
    assert s_resumed['steps'] == 14 and s_resumed['pairs'] == s_whole['pairs']
    assert [r['step'] for r in s_resumed['records']] == [4, 8, 12, 14]
    assert s_resumed['mlm_loss'] == s_whole['mlm_loss']
    assert s_resumed['nsp_loss'] == s_whole['nsp_loss']


def test_dynamic_masking_redraws_every_pass_and_resumes_to_the_same_model(
        wiki, tmp_path, params_of, max_diff):
    """With dynamic_masking each pass trains on a new draw of masks and NSP
    partners (the run differs from the static one); a run killed mid-way and
    resumed in a new process (the dataset built anew, at draw 0) ends with the
    same parameters as the uninterrupted one."""
    import copy
    from gluon_bert.train import checkpoint as state
    static, _ = run_pretrain(copy.deepcopy(wiki), str(tmp_path / 's'))
    data = copy.deepcopy(wiki)
    whole, s_whole = run_pretrain(data, str(tmp_path / 'a'), dynamic_masking=True)
    passes = -(-14 // -(-len(wiki) // 32))
    assert passes >= 2 and data.draw == passes - 1
    assert max_diff(params_of(static), params_of(whole)) > 1e-4
    folder = str(tmp_path / 'b')
    run_pretrain(copy.deepcopy(wiki), folder, crash_after=8, dynamic_masking=True)
    assert state.list_checkpoints(folder)[0][0] < 8
    resumed, s_resumed = run_pretrain(copy.deepcopy(wiki), folder, resume=True,
                                      dynamic_masking=True)
    assert max_diff(params_of(whole), params_of(resumed)) == 0.0
    assert s_resumed['mlm_loss'] == s_whole['mlm_loss']


if __name__ == '__main__' and len(sys.argv) > 2 and sys.argv[1] == 'finetune-killed':
    from gluon_bert.cli import finetune_main
    kill_after(int(sys.argv[2]))
    finetune_main(sys.argv[3:])
