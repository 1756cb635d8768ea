"""The command-line entry points: every module imports, every script runs, the
defaults are the chapter's, and the offline pipeline runs end to end."""
import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys

import pytest

import gluon_bert

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ['pretrain.py', 'finetune_snli.py', 'finetune.py', 'evaluate.py', 'predict.py',
           'export.py', 'plot_runs.py']


def run(args, **kw):
    env = dict(os.environ, PYTHONWARNINGS='ignore', MPLBACKEND='Agg')
    return subprocess.run([sys.executable] + args, cwd=ROOT, env=env, capture_output=True,
                          text=True, **kw)


def test_every_module_imports():
    """Regression: the draft called helpers by names it never defined and used
    `mx` without importing it."""
    optional = ('gluon_bert.compare',)       # needs torch, an optional dependency
    for mod in pkgutil.walk_packages(gluon_bert.__path__, 'gluon_bert.'):
        if mod.name.startswith(optional):
            continue
        importlib.import_module(mod.name)


@pytest.mark.parametrize('script', SCRIPTS)
def test_scripts_show_help(script):
    r = run([os.path.join('scripts', script), '--help'])
    assert r.returncode == 0, r.stderr
    assert 'usage' in r.stdout


def test_gluon_bert_command_lists_and_runs_the_subcommands():
    """The console script installed with the package."""
    from gluon_bert.cli import COMMANDS
    command = os.path.join(os.path.dirname(sys.executable), 'gluon-bert')
    env = dict(os.environ, PYTHONWARNINGS='ignore', MPLBACKEND='Agg')
    r = subprocess.run([command, '--help'], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('usage: gluon-bert COMMAND')
    assert sorted(COMMANDS) == sorted(['pretrain', 'finetune', 'finetune-task', 'evaluate',
                                       'predict', 'convert', 'compare', 'export', 'plot'])
    for name in COMMANDS:
        assert '\n  %s ' % name in r.stdout, name
    r = subprocess.run([command, 'predict', '--help'], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('usage: gluon-bert predict') and 'premise' in r.stdout
    r = subprocess.run([command, 'nope'], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "unknown command 'nope'" in r.stderr


@pytest.mark.parametrize('name', ['pretrain', 'finetune', 'finetune-task', 'evaluate',
                                  'predict', 'convert', 'compare', 'export', 'plot'])
def test_every_subcommand_dispatches_to_its_main(name, monkeypatch):
    import gluon_bert.cli as cli
    module, function, _ = cli.COMMANDS[name]
    calls, program = [], sys.argv[0]
    monkeypatch.setattr(importlib.import_module('gluon_bert.cli.' + module), function,
                        lambda argv=None: calls.append((argv, sys.argv[0])) or {'a': 'report'})
    assert cli.main([name, '--x', 'y']) == 0         # an exit status, not the report
    assert calls == [(['--x', 'y'], 'gluon-bert ' + name)]    # argparse's prog
    assert sys.argv[0] == program
    assert getattr(cli, function) is getattr(importlib.import_module('gluon_bert.cli.' + module),
                                             function)


def test_default_hyperparameters(monkeypatch):
    """Regression: the draft fine-tuned with Adam at lr 0.1."""
    from gluon_bert.cli import finetune as finetune_cli, pretrain as pretrain_cli
    from gluon_bert.cli import finetune_main, pretrain_main
    seen = {}

    def capture(name):
        def fake(args):
            seen[name] = args
        return fake
    monkeypatch.setattr(finetune_cli, 'run_finetuning', capture('finetune'))
    monkeypatch.setattr(pretrain_cli, 'run_pretraining', capture('pretrain'))
    finetune_main([])
    pretrain_main([])
    f, p = seen['finetune'], seen['pretrain']
    assert (f.lr, f.num_epochs, f.batch_size, f.max_len) == (1e-4, 5, 512, 128)
    assert (p.lr, p.num_steps, p.batch_size, p.max_len, p.preset) == \
        (1e-3, 4000, 256, 128, 'd2l.pretrain')
    assert f.dataset == 'snli' and p.dataset == 'wikitext-2'
    assert f.optimizer == p.optimizer == 'adam' and f.weight_decay == p.weight_decay == 0
    assert p.lr_schedule == 'auto' and p.warmup_ratio == 0     # constant, as train_bert
    assert f.head == 'mlp' and not p.dynamic_masking


def test_offline_pipeline_end_to_end(tmp_path):
    pre, fin = str(tmp_path / 'pre'), str(tmp_path / 'fin')
    r = run(['scripts/pretrain.py', '--dataset', 'synthetic', '--synthetic-paragraphs', '200',
             '--preset', 'demo', '--num-steps', '20', '--batch-size', '32', '--max-len', '64',
             '--log-interval', '10', '--output', pre, '--no-progress'])
    assert r.returncode == 0, r.stderr
    assert 'MLM loss' in r.stdout and 'sentence pairs/sec' in r.stdout
    for name in ('model.params', 'config.json', 'vocab.json', 'metrics.jsonl', 'curves.png'):
        assert os.path.exists(os.path.join(pre, name)), name
    # a finished run is not overwritten
    r = run(['scripts/pretrain.py', '--dataset', 'synthetic', '--output', pre])
    assert r.returncode != 0 and 'already holds a finished run' in r.stderr
    r = run(['scripts/finetune_snli.py', '--dataset', 'synthetic', '--pretrained', pre,
             '--num-epochs', '1', '--batch-size', '64', '--max-len', '64',
             '--output', fin, '--no-progress'])
    assert r.returncode == 0, r.stderr
    assert 'test acc' in r.stdout and 'examples/sec' in r.stdout
    with open(os.path.join(fin, 'metrics.json')) as f:
        m = json.load(f)
    for key in ('test_acc', 'train_acc', 'train_loss', 'examples_per_sec',
                'num_train_examples', 'num_test_examples'):
        assert key in m, key
    assert 0 <= m['test_acc'] <= 1 and m['num_train_examples'] > 0
    # evaluate and predict on the saved classifier
    from gluon_bert.data.synthetic import write_nli_file
    data = write_nli_file(str(tmp_path / 'test.tsv'), 90, seed=5)
    r = run(['scripts/evaluate.py', '--model', fin, '--data', data,
             '--json', str(tmp_path / 'eval.json')])
    assert r.returncode == 0, r.stderr
    report = json.load(open(tmp_path / 'eval.json'))
    assert report['num_examples'] == 90 and len(report['confusion_matrix']) == 3
    assert 'mcc' in report and set(report['per_class']) == {'entailment', 'contradiction',
                                                            'neutral'}
    r = run(['scripts/predict.py', '--model', fin, 'a red dog runs in the park',
             'the dog is red'])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] in ('entailment', 'contradiction', 'neutral')


def test_expected_failures_are_one_line_without_traceback(tmp_path):
    """A missing --pretrained folder: one `error:` line naming it, exit status 1,
    no traceback; --debug (or GLUON_BERT_DEBUG=1) shows the traceback."""
    missing = str(tmp_path / 'no-such-model')
    args = ['scripts/finetune_snli.py', '--pretrained', missing, '--output',
            str(tmp_path / 'out'), '--dataset', 'synthetic']
    r = run(args)
    assert r.returncode == 1, r.stderr
    # (MXNet's own start-up log line, '[hh:mm:ss] ../src/engine/...', may come first.)
    lines = [line for line in r.stderr.splitlines()
             if line.strip() and not re.match(r'\[\d\d:\d\d:\d\d\] \.\./src/', line)]
    assert lines == ['error: no such gluon_bert model folder: %s (--debug shows the '
                     'traceback)' % missing], r.stderr
    r = run(args + ['--debug'])
    assert r.returncode == 1 and 'Traceback' in r.stderr and 'FileNotFoundError' in r.stderr
    from gluon_bert.cli import run as run_command
    with pytest.raises(FileNotFoundError):      # GLUON_BERT_DEBUG: raised as it is
        os.environ['GLUON_BERT_DEBUG'] = '1'
        try:
            run_command('finetune', args[1:])
        finally:
            del os.environ['GLUON_BERT_DEBUG']
    os.environ.pop('GLUON_BERT_DEBUG', None)
    assert run_command('finetune', args[1:]) == 1


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_the_readme_demo_learns_the_synthetic_task(tmp_path, seed):
    """The README's two demo commands, with only --dataset synthetic (and the
    folders and a seed): the dataset's recipe (demo preset, its steps, batch
    sizes and learning rates) applies, args.json records it, and fine-tuning
    ends at >= 0.95 test accuracy for each of several seeds, past the 2/3
    plateau (neutral learnt, the colours not compared) where it used to stop
    for some seeds and thread counts (benchmarks/demo_grid.py runs the whole
    grid: results/demo-grid)."""
    from gluon_bert.train.options import FinetuneArgs, PretrainArgs, dataset_defaults
    pre, fin = str(tmp_path / 'demo-pretrain'), str(tmp_path / 'demo-finetune')
    common = ['--seed', str(seed), '--no-progress']
    r = run(['scripts/pretrain.py', '--dataset', 'synthetic', '--output', pre] + common)
    assert r.returncode == 0, r.stderr
    r = run(['scripts/finetune_snli.py', '--dataset', 'synthetic', '--pretrained', pre,
             '--output', fin] + common)
    assert r.returncode == 0, r.stderr
    for folder, cls in ((pre, PretrainArgs), (fin, FinetuneArgs)):
        with open(os.path.join(folder, 'args.json')) as f:
            used = json.load(f)['args']
        for name, value in dataset_defaults(cls, 'synthetic').items():
            if name not in ('output', 'pretrained'):
                assert used[name] == value, (folder, name)
    with open(os.path.join(fin, 'metrics.json')) as f:
        m = json.load(f)
    assert m['test_acc'] >= 0.95, r.stdout


def test_plot_draws_several_runs_and_names_a_bad_line(tmp_path):
    """`gluon-bert plot` reads each run's metrics.jsonl (folder or file, LABEL=PATH
    or PATH) and writes one PNG; a line that is not JSON is one error line naming
    the file and the line, and no PNG is written."""
    a, b = tmp_path / 'chapter', tmp_path / 'fast.jsonl'
    a.mkdir()
    (a / 'metrics.jsonl').write_text(''.join(
        json.dumps(dict(step=s, mlm_loss=7.0 - s / 100, val_mlm_loss=6.9 - s / 100)) + '\n'
        for s in (50, 100, 150)))
    b.write_text(json.dumps(dict(step=50, mlm_loss=6.5)) + '\n')
    png = tmp_path / 'runs.png'
    r = run(['scripts/plot_runs.py', '--output', str(png), str(a), 'fast=' + str(b)])
    assert r.returncode == 0, r.stderr
    assert 'chapter, fast' in r.stdout and png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    table = tmp_path / 'side.md'
    r = run(['scripts/plot_runs.py', '--output', str(png), '--keys', 'mlm_loss,val_mlm_loss',
             '--table', str(table), str(a), 'fast=' + str(b)])
    assert r.returncode == 0, r.stderr
    lines = table.read_text().splitlines()
    assert lines[0] == ('| step | chapter: mlm_loss | fast: mlm_loss | fast - chapter: mlm_loss '
                        '| chapter: val_mlm_loss | fast: val_mlm_loss '
                        '| fast - chapter: val_mlm_loss |')
    # step 50 is the only one both logged; fast has no validation there
    assert lines[2:] == ['| 50 | 6.500 | 6.500 | +0.000 | 6.400 | - | - |']
    r = run(['scripts/plot_runs.py', '--output', str(png), '--keys', 'mlm_loss', '--max-x', '100',
             '--table', str(table), str(a)])
    assert r.returncode == 0, r.stderr
    assert [l.split(' | ')[0] for l in table.read_text().splitlines()[2:]] == ['| 50', '| 100']
    b.write_text(json.dumps(dict(step=50, mlm_loss=6.5)) + '\n{"step": 100,\n')
    png.unlink()
    r = run(['scripts/plot_runs.py', '--output', str(png), str(a), 'fast=' + str(b)])
    assert r.returncode == 1 and not png.exists()
    assert r.stderr.startswith('error: %s: line 2: invalid JSON' % b), r.stderr
    r = run(['scripts/plot_runs.py', '--output', str(png), '--keys', 'test_acc', str(a)])
    assert r.returncode == 1 and 'none of the metrics test_acc' in r.stderr
