"""Output folders and I/O errors, through the commands a user runs:

* a folder in use by a live run is refused (its lock names pid, host and folder);
  a stale lock (a dead process of this host) is reported and taken over; the
  lock is released when the run ends;
* a job refuses a folder holding another job's results (both directions), a
  converted model, or files that are no run at all; `--overwrite` replaces a
  run's folder as a whole (no stale file left);
* a write that fails (no space, no permission) names the file and the cause;
* a truncated or foreign params file is named, and said to be truncated or
  not a params file.
"""
import errno
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from gluon_bert.cli import run
from gluon_bert.outputs import LOCK_FILE

PRETRAIN = ['--dataset', 'synthetic', '--preset', 'demo', '--max-len', '32', '--num-steps',
            '4', '--batch-size', '8', '--synthetic-paragraphs', '30', '--log-interval', '2',
            '--eval-interval', '0', '--no-progress']
MAIN = 'import sys; from gluon_bert.cli import run; sys.exit(run("pretrain", sys.argv[1:]))'
FINETUNE = ['--dataset', 'synthetic', '--synthetic-pairs', '32,16', '--max-len', '32',
            '--batch-size', '16', '--num-epochs', '1', '--no-progress', '--num-workers', '1']


def command(name, *argv, capsys=None):
    """(exit status, stderr) of `gluon-bert name argv` run in this process."""
    if capsys is not None:
        capsys.readouterr()
    code = run(name, list(argv))
    err = capsys.readouterr().err if capsys is not None else ''
    return code, err


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('outputs') / 'pre')
    assert run('pretrain', PRETRAIN + ['--output', folder]) == 0
    return folder


def snapshot(folder):
    """{name: bytes} of the files of `folder` (not its sub-folders)."""
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                out[name] = f.read()
    return out


def finetuned(pretrained, folder):
    assert run('finetune', FINETUNE + ['--pretrained', pretrained, '--output', folder]) == 0
    return folder


# ---------------------------------------------------------------------------
# The lock


def hold_lock(folder):
    """A sleeping subprocess that holds the lock of `folder`."""
    code = ('import sys, time; from gluon_bert.outputs import acquire_lock; '
            'lock = acquire_lock(sys.argv[1]); print("locked", flush=True); time.sleep(300)')
    proc = subprocess.Popen([sys.executable, '-c', code, folder], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def test_a_second_run_is_refused_while_the_first_holds_the_folder(tmp_path, capsys):
    out = str(tmp_path / 'run')
    os.makedirs(out)
    holder = hold_lock(out)
    try:
        for extra in ([], ['--overwrite']):
            code, err = command('pretrain', *PRETRAIN, '--output', out, *extra, capsys=capsys)
            assert code == 1
            assert ('error: %s is in use by another run (pid %d on %s'
                    % (out, holder.pid, socket.gethostname())) in err
            assert os.path.join(out, LOCK_FILE) in err
            assert sorted(os.listdir(out)) == [LOCK_FILE]          # nothing written
    finally:
        holder.kill()
        holder.wait()
    # The holder died without releasing: its lock is stale, reported and taken over.
    code, err = command('pretrain', *PRETRAIN, '--output', out, capsys=capsys)
    assert code == 0
    assert ('note: %s: taking over the stale lock of pid %d on %s'
            % (out, holder.pid, socket.gethostname())) in err
    assert err.count('stale lock') == 1
    assert os.path.exists(os.path.join(out, 'model.params'))
    assert not os.path.exists(os.path.join(out, LOCK_FILE))      # released at the end


def test_a_lock_of_a_running_training_keeps_a_second_one_out(tmp_path):
    out = str(tmp_path / 'run')
    args = PRETRAIN[:PRETRAIN.index('--num-steps') + 1] + ['100000'] + \
        PRETRAIN[PRETRAIN.index('--num-steps') + 2:]
    first = subprocess.Popen([sys.executable, '-c', MAIN] + args + ['--output', out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = os.path.join(out, LOCK_FILE)
        for _ in range(600):
            if os.path.exists(os.path.join(out, 'args.json')) or first.poll() is not None:
                break
            time.sleep(0.1)
        assert first.poll() is None
        with open(lock) as f:
            assert json.load(f)['pid'] == first.pid
        second = subprocess.run([sys.executable, '-c', MAIN] + args + ['--output', out],
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 1
        assert 'error: %s is in use by another run (pid %d' % (out, first.pid) in second.stderr
        assert 'Traceback' not in second.stderr
    finally:
        first.kill()
        first.wait()


# ---------------------------------------------------------------------------
# What a folder holds


def test_pretraining_refuses_a_fine_tuning_folder(pretrained, tmp_path, capsys):
    out = finetuned(pretrained, str(tmp_path / 'ft'))
    before = snapshot(out)
    code, err = command('pretrain', *PRETRAIN, '--output', out, capsys=capsys)
    assert code == 1
    assert 'error: %s holds the results of a finetune run; a pretrain run would replace ' \
        'them' % out in err and '--overwrite' in err
    assert snapshot(out) == before          # vocab.json beside classifier.params untouched
    assert 'classifier.params' in before and 'vocab.json' in before


def test_fine_tuning_refuses_a_pretraining_folder_without_checkpoints(pretrained, tmp_path,
                                                                        capsys):
    out = str(tmp_path / 'pre-nockpt')
    assert run('pretrain', PRETRAIN + ['--output', out, '--no-checkpoints']) == 0
    before = snapshot(out)
    code, err = command('finetune', *FINETUNE, '--pretrained', pretrained, '--output', out,
                        capsys=capsys)
    assert code == 1
    assert 'error: %s holds the results of a pretrain run; a finetune run would replace ' \
        'them' % out in err
    assert snapshot(out) == before
    assert 'metrics.jsonl' in before and 'curves.png' in before


def test_overwrite_replaces_the_folder_as_a_whole(pretrained, tmp_path):
    out = finetuned(pretrained, str(tmp_path / 'ft'))
    with open(os.path.join(out, 'eval_test.json'), 'w') as f:     # a file of the old run
        f.write('{}')
    assert run('pretrain', PRETRAIN + ['--output', out, '--overwrite']) == 0
    names = sorted(os.listdir(out))
    assert names == sorted(os.listdir(pretrained))
    for stale in ('classifier.params', 'metrics.json', 'eval_test.json'):
        assert stale not in names
    with open(os.path.join(out, 'args.json')) as f:
        assert json.load(f)['kind'] == 'pretrain'


def test_a_folder_that_holds_no_run_is_never_replaced(tmp_path, capsys):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    for extra in ([], ['--overwrite']):
        code, err = command('pretrain', *PRETRAIN, '--output', str(out), *extra, capsys=capsys)
        assert code == 1
        assert 'is not empty and holds no gluon_bert run (notes.txt)' in err
    assert sorted(os.listdir(out)) == ['notes.txt']


def test_convert_records_its_kind_and_guards_its_folder(pretrained, tmp_path, capsys):
    ft = finetuned(pretrained, str(tmp_path / 'ft'))
    before = snapshot(ft)
    code, err = command('convert', '--init', pretrained, '--output', ft, capsys=capsys)
    assert code == 1 and 'holds the results of a finetune run; a convert run' in err
    assert snapshot(ft) == before
    out = str(tmp_path / 'converted')
    assert run('convert', ['--init', pretrained, '--output', out]) == 0
    with open(os.path.join(out, 'args.json')) as f:
        assert json.load(f)['kind'] == 'convert'
    code, err = command('convert', '--init', pretrained, '--output', out, capsys=capsys)
    assert code == 1 and 'already holds a finished run' in err
    code, err = command('pretrain', *PRETRAIN, '--output', out, capsys=capsys)
    assert code == 1 and 'holds the results of a convert run' in err
    assert run('convert', ['--init', pretrained, '--output', out, '--overwrite']) == 0


# ---------------------------------------------------------------------------
# I/O errors


def test_a_full_disk_names_the_file_and_leaves_no_temporary_file(tmp_path, capsys,
                                                                  monkeypatch):
    out = str(tmp_path / 'full')
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith('model.params'):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)
    monkeypatch.setattr(os, 'replace', replace)
    code, err = command('pretrain', *PRETRAIN, '--output', out, '--no-checkpoints',
                        capsys=capsys)
    assert code == 1
    assert ('error: cannot write %s: No space left on device (free some space or choose '
            'another --output)' % os.path.join(out, 'model.params')) in err
    assert not [n for n in os.listdir(out) if n.endswith('.tmp')]
    assert not os.path.exists(os.path.join(out, LOCK_FILE))


@pytest.mark.skipif(os.geteuid() == 0, reason='root may write anywhere')
def test_an_unwritable_output_folder_is_named(tmp_path, capsys):
    out = tmp_path / 'ro'
    out.mkdir()
    out.chmod(0o500)
    try:
        code, err = command('pretrain', *PRETRAIN, '--output', str(out), capsys=capsys)
    finally:
        out.chmod(0o700)
    assert code == 1
    assert 'error: cannot write %s' % os.path.join(str(out), LOCK_FILE) in err
    assert 'Permission denied' in err


def truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def test_a_truncated_model_params_is_named(pretrained, tmp_path, capsys):
    import shutil
    broken = str(tmp_path / 'broken')
    shutil.copytree(pretrained, broken, ignore=shutil.ignore_patterns('checkpoints'))
    truncate(os.path.join(broken, 'model.params'))
    code, err = command('finetune', *FINETUNE, '--pretrained', broken, '--output',
                        str(tmp_path / 'ft'), capsys=capsys)
    assert code == 1
    assert 'error: %s is truncated or corrupted' % os.path.join(broken, 'model.params') in err
    assert 'Traceback' not in err


def test_a_classifier_params_that_is_no_params_file_is_named(pretrained, tmp_path, capsys):
    out = finetuned(pretrained, str(tmp_path / 'ft'))
    params = os.path.join(out, 'classifier.params')
    with open(params, 'wb') as f:
        f.write(b'<html>not found</html>')
    data = tmp_path / 'pairs.tsv'
    data.write_text('gold_label\tsentence1\tsentence2\nentailment\ta b\ta\n')
    code, err = command('evaluate', '--model', out, '--data', str(data), capsys=capsys)
    assert code == 1
    assert 'error: %s is not an MXNet parameters file' % params in err


def test_a_lock_whose_pid_was_reused_is_stale_and_one_of_another_host_is_kept(tmp_path,
                                                                              capsys):
    from gluon_bert.outputs import FolderInUseError, acquire_lock
    folder = str(tmp_path)
    path = os.path.join(folder, LOCK_FILE)
    host = socket.gethostname()
    # This process is alive, but it did not start when the lock says: another one had its pid.
    with open(path, 'w') as f:
        json.dump({'pid': os.getpid(), 'host': host, 'proc_start': 1}, f)
    with acquire_lock(folder) as lock:
        assert 'taking over the stale lock of pid %d' % os.getpid() in capsys.readouterr().err
        with open(path) as f:
            assert json.load(f)['proc_start'] == lock.content['proc_start'] != 1
        with pytest.raises(FolderInUseError, match='in use by another run'):
            acquire_lock(folder)                 # held: even by this very process
    assert not os.path.exists(path)
    with open(path, 'w') as f:
        json.dump({'pid': 1, 'host': 'elsewhere'}, f)
    with pytest.raises(FolderInUseError, match='locked by a run on another host '
                       r'\(pid 1 on elsewhere.*if that run has ended, delete the lock file'):
        acquire_lock(folder)
