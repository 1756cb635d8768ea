"""Degenerate input, label maps, divergence and signals, through the commands:

* 0 or negative example counts and 0 epochs fail at parse time; a test set
  with no example is refused, saying which file and how many rows were read
  and skipped; no JSON the project writes holds NaN or Infinity;
* numeric labels are read with --label-map chapter|glue; skipped rows are
  counted per file with their reasons;
* a loss that rises far above its start is warned about, or stops the run
  with --stop-on-divergence;
* SIGTERM / SIGINT stop a run at a step boundary with a checkpoint and the
  command that resumes it (exit 143 / 130), and the resumed run ends as an
  uninterrupted one; the launcher's processes end when it is killed.
"""
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gluon_bert.cli import run

PRETRAIN = ['--dataset', 'synthetic', '--preset', 'demo', '--max-len', '32',
            '--batch-size', '8', '--synthetic-paragraphs', '30', '--eval-interval', '0',
            '--no-progress']
FINETUNE = ['--max-len', '32', '--batch-size', '16', '--num-epochs', '1', '--no-progress',
            '--num-workers', '1']
MAIN = 'import sys; from gluon_bert.cli import run; sys.exit(run("pretrain", sys.argv[1:]))'


def command(name, argv, capsys):
    capsys.readouterr()
    code = run(name, list(argv))
    return (code,) + tuple(capsys.readouterr())


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('reliability') / 'pre')
    assert run('pretrain', PRETRAIN + ['--num-steps', '2', '--output', folder]) == 0
    return folder


def write_tsv(path, rows):
    path.write_text('gold_label\tsentence1\tsentence2\n' +
                    ''.join('%s\t%s\t%s\n' % row for row in rows))
    return str(path)


# ---------------------------------------------------------------------------
# Degenerate input


@pytest.mark.parametrize('name,option,value', [
    ('finetune', '--max-train-examples', '0'), ('finetune', '--max-train-examples', '-5'),
    ('finetune', '--max-test-examples', '0'), ('finetune', '--num-epochs', '0'),
    ('pretrain', '--num-steps', '0')])
def test_degenerate_counts_fail_at_parse_time(name, option, value, capsys):
    with pytest.raises(SystemExit) as e:
        run(name, [option, value])
    assert e.value.code == 2
    assert 'argument %s: must be at least 1, got %s' % (option, value) in capsys.readouterr().err


def test_degenerate_counts_are_refused_in_python_too():
    from gluon_bert.train.jobs import load_nli_data
    from gluon_bert.train.options import FinetuneArgs
    with pytest.raises(ValueError, match='--max-train-examples must be at least 1, got 0'):
        FinetuneArgs(max_train_examples=0)
    with pytest.raises(ValueError, match='--label-map must be one of chapter, glue'):
        FinetuneArgs(label_map='hf')
    with pytest.raises(ValueError, match='--synthetic-pairs takes two numbers of at least 1'):
        load_nli_data(FinetuneArgs(dataset='synthetic', synthetic_pairs=[10, 0]))


def test_a_test_set_without_examples_is_refused_saying_why(pretrained, tmp_path, capsys):
    train = write_tsv(tmp_path / 'train.tsv', [('entailment', 'a red car', 'a car')] * 4)
    test = write_tsv(tmp_path / 'test.tsv', [('-', 'a red car', 'a car')] * 3 +
                     [('neutral', ' ', 'a car')])
    code, out, err = command('finetune', FINETUNE + [
        '--pretrained', pretrained, '--train-file', train, '--test-file', test,
        '--output', str(tmp_path / 'ft')], capsys)
    assert code == 1
    assert '%s: read 4 rows, 4 examples' % train in out
    assert ('error: the test set has no example: %s: read 4 rows, 0 examples, skipped 4 '
            "(1 empty sentence, 3 gold label '-')" % test) in err


def strict_json(text):
    def refuse(name):
        raise ValueError('%s in JSON' % name)
    return json.loads(text, parse_constant=refuse)


def test_json_outputs_never_hold_nan(tmp_path):
    from gluon_bert.fileio import dumps_json, write_json_atomic
    from gluon_bert.train.logs import MetricsLog
    path = str(tmp_path / 'm.json')
    write_json_atomic(path, {'acc': float('nan'), 'loss': np.float32('inf'),
                             'list': [1.0, -float('inf')], 'n': 3})
    with open(path) as f:
        assert strict_json(f.read()) == {'acc': None, 'loss': None, 'list': [1.0, None], 'n': 3}
    log = MetricsLog(str(tmp_path / 'm.jsonl'))
    log.write(step=1, loss=float('nan'))
    with open(str(tmp_path / 'm.jsonl')) as f:
        assert strict_json(f.readline()) == {'step': 1, 'loss': None}
    assert dumps_json(float('nan')) == 'null'


def test_fine_tuning_makes_one_step_per_batch_even_on_one_example(pretrained, tmp_path,
                                                                   capsys):
    from gluon_bert.train.jobs import run_finetuning
    from gluon_bert.train.options import FinetuneArgs
    train = write_tsv(tmp_path / 'one.tsv', [('entailment', 'a red car', 'a car')])
    summary = run_finetuning(FinetuneArgs(
        pretrained=pretrained, train_file=train, test_file=train, max_len=32,
        batch_size=512, num_epochs=3, progress=False, num_workers=1,
        output=str(tmp_path / 'ft')))
    assert summary['steps'] == 3 and summary['num_train_examples'] == 1
    with open(str(tmp_path / 'ft' / 'metrics.json')) as f:
        metrics = strict_json(f.read())
    assert metrics['test_acc'] in (0.0, 1.0)


# ---------------------------------------------------------------------------
# Labels


def test_numeric_labels_follow_the_label_map(tmp_path):
    from gluon_bert.data.snli import describe_reading, read_snli_file
    rows = [('0', 'a b', 'a'), ('1', 'a b', 'c'), ('2', 'a b', 'd'), ('-1', 'a b', 'e'),
            ('neutral', 'a b', 'f')]
    path = write_tsv(tmp_path / 'numeric.tsv', rows)
    glue = read_snli_file(path, 'glue')
    # 0 entailment, 1 neutral, 2 contradiction in glue order -> the chapter's ids.
    assert glue.labels == [0, 2, 1, 2] and glue.skipped['no_gold_label'] == 1
    assert describe_reading(glue, 'numeric.tsv') == \
        "numeric.tsv: read 5 rows, 4 examples, skipped 1 (1 gold label '-' or -1)"
    with pytest.raises(ValueError, match=r"numeric.tsv: line 5: unknown label '-1'.*"
                       r"--label-map glue"):
        read_snli_file(path)                  # the chapter's map has no -1
    chapter = read_snli_file(write_tsv(tmp_path / 'c.tsv', rows[:3]))
    assert chapter.labels == [0, 1, 2]
    jsonl = tmp_path / 'numeric.jsonl'
    jsonl.write_text(''.join(json.dumps({'label': y, 'premise': 'a b', 'hypothesis': 'c'}) +
                             '\n' for y in (0, 1, 2, -1)))
    assert read_snli_file(str(jsonl), 'glue').labels == [0, 2, 1]


def test_fine_tuning_prints_what_each_file_skipped(pretrained, tmp_path, capsys):
    train = write_tsv(tmp_path / 'train.tsv', [('0', 'a red car', 'a car')] * 5 +
                      [('-1', 'a red car', 'a car')] * 2 + [('1', '', 'a car')])
    test = write_tsv(tmp_path / 'test.tsv', [('2', 'a red car', 'a blue car')] * 3)
    code, out, err = command('finetune', FINETUNE + [
        '--pretrained', pretrained, '--train-file', train, '--test-file', test,
        '--label-map', 'glue', '--output', str(tmp_path / 'ft')], capsys)
    assert code == 0, err
    assert ("%s: read 8 rows, 5 examples, skipped 3 (1 empty sentence, 2 gold label '-' or "
            "-1)" % train) in out
    assert '%s: read 3 rows, 3 examples' % test in out
    with open(str(tmp_path / 'ft' / 'args.json')) as f:
        assert json.load(f)['args']['label_map'] == 'glue'
    evaluate = ['--model', str(tmp_path / 'ft'), '--data', train,
                '--json', str(tmp_path / 'report.json')]
    code, out, err = command('evaluate', evaluate, capsys)
    assert code == 1 and "line 7: unknown label '-1'" in err and '--label-map glue' in err
    code, out, err = command('evaluate', evaluate + ['--label-map', 'glue'], capsys)
    assert code == 0, err
    assert "%s: read 8 rows, 5 examples, skipped 3" % train in out
    with open(str(tmp_path / 'report.json')) as f:
        assert strict_json(f.read())['skipped'] == {'no_gold_label': 2, 'empty_sentence': 1}


# ---------------------------------------------------------------------------
# Divergence


def test_the_divergence_rule():
    import io
    from gluon_bert.train.divergence import DivergenceCheck, DivergenceError
    out = io.StringIO()
    check = DivergenceCheck(3.0, out=out)
    records = [{'step': 10, 'loss': 2.0}, {'step': 20, 'loss': 6.0}]
    args = (lambda r: r['loss'], lambda r: 'step %d' % r['step'])
    check.check(records, *args)
    assert out.getvalue() == ''                                   # 3x is not above 3x
    records.append({'step': 30, 'loss': 6.5})
    check.check(records, *args)
    check.check(records + [{'step': 40, 'loss': 9.0}], *args)
    assert out.getvalue().count('warning:') == 1
    assert 'the training loss diverges: 6.5 at step 30 is more than 3 times its first ' \
        'logged value 2 (step 10)' in out.getvalue()
    with pytest.raises(DivergenceError, match='training stopped \\(--stop-on-divergence\\)'):
        DivergenceCheck(3.0, stop=True).check(records, *args)


def test_a_diverging_pretraining_warns_or_stops(tmp_path, capsys):
    argv = PRETRAIN + ['--num-steps', '8', '--log-interval', '2', '--lr', '1',
                       '--no-checkpoints']
    code, out, err = command('pretrain', argv + ['--output', str(tmp_path / 'a')], capsys)
    assert code == 0
    assert err.count('warning: the training loss diverges') == 1
    code, out, err = command('pretrain', argv + ['--output', str(tmp_path / 'b'),
                                                 '--stop-on-divergence'], capsys)
    assert code == 1
    line = [l for l in err.splitlines() if l.startswith('error:')][0]
    assert line.startswith('error: the training loss diverges: ')
    assert 'training stopped (--stop-on-divergence); no checkpoint of this run was written' \
        in line
    assert not os.path.exists(str(tmp_path / 'b' / 'model.params'))


# ---------------------------------------------------------------------------
# Signals


def start_pretraining(argv):
    return subprocess.Popen([sys.executable, '-c', MAIN] + argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_records(folder, proc, timeout=300):
    path = os.path.join(folder, 'metrics.jsonl')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        time.sleep(0.05)
    raise AssertionError('no metrics record before the end: %s' % (proc.communicate(),))


def test_sigterm_checkpoints_and_the_resumed_run_ends_as_an_uninterrupted_one(
        tmp_path, load_params, max_diff):
    out = str(tmp_path / 'sig')
    argv = PRETRAIN + ['--num-steps', '150', '--log-interval', '1', '--output', out]
    proc = start_pretraining(argv)
    wait_for_records(out, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    assert 'Traceback' not in err
    error = [l for l in err.splitlines() if l.startswith('error:')]
    assert len(error) == 1 and error[0].startswith('error: stopped by SIGTERM at step ')
    step = int(error[0].split('at step ')[1].split()[0])
    assert 0 < step < 150
    checkpoint = os.path.join(out, 'checkpoints', 'step-%08d' % step)
    assert error[0].endswith('checkpoint written: %s' % checkpoint)
    resume = [l for l in err.splitlines() if l.startswith('resume with: ')]
    assert len(resume) == 1
    resume_argv = shlex.split(resume[0][len('resume with: '):])
    assert resume_argv[-1] == '--resume' and resume_argv[-3:-1] == ['--output', out]
    again = subprocess.run([sys.executable, '-c', MAIN] + resume_argv[2:], capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert 'resuming from %s (step %d,' % (checkpoint, step) in again.stderr
    whole = str(tmp_path / 'whole')
    assert subprocess.run([sys.executable, '-c', MAIN] + argv[:-1] + [whole],
                          capture_output=True, timeout=600).returncode == 0
    assert max_diff(load_params(os.path.join(out, 'model.params')),
                    load_params(os.path.join(whole, 'model.params'))) == 0


def test_sigint_without_checkpoints_says_the_run_cannot_be_resumed(tmp_path):
    out = str(tmp_path / 'int')
    proc = start_pretraining(PRETRAIN + ['--num-steps', '100000', '--log-interval', '1',
                                         '--no-checkpoints', '--output', out])
    wait_for_records(out, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert 'Traceback' not in err and 'resume with' not in err
    assert 'error: stopped by SIGINT at step ' in err
    assert 'no checkpoint written (--no-checkpoints): the run cannot be resumed' in err
    assert not os.path.exists(os.path.join(out, '.gluon_bert.lock'))


def test_a_second_signal_stops_at_once(capsys):
    from gluon_bert.train.signals import Interrupted, StopRequests
    before = signal.getsignal(signal.SIGTERM)
    with StopRequests(immediate=lambda n: Interrupted(n, 'now')) as stops:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert stops.signum == signal.SIGTERM                 # only asked
        assert 'SIGTERM received: stopping after this step' in capsys.readouterr().err
        with pytest.raises(Interrupted, match='now') as e:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert e.value.exit_status == 143
    with pytest.raises(Interrupted):
        with StopRequests(defer=False):                      # a distributed job
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) is before         # restored


def children_of(pid):
    """The pids of the live processes whose parent is `pid` (Linux /proc)."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in 'ZX':
            found.append(int(name))
    return found


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in 'ZX'
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='prctl is Linux only')
def test_the_launchers_processes_end_when_it_is_killed():
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'gluon_bert.launch', '-n', '1', '-s', '1', '--',
         sys.executable, '-c', 'import time; time.sleep(600)'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(children_of(launcher.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        children = children_of(launcher.pid)
        assert len(children) == 3                 # scheduler, server, worker
    finally:
        launcher.kill()
        launcher.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in children if alive(pid)]
    for pid in left:                              # do not leave them behind either way
        os.kill(pid, signal.SIGKILL)
    assert not left
