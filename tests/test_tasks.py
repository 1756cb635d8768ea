"""Fine-tuning on any labelled file (`gluon-bert finetune-task`,
scripts/finetune.py): the reader (columns by name, classes from the file or
--labels), a single-sentence binary task and a 4-class pair task learnt well
above chance, their metrics (accuracy, macro-F1, MCC) in metrics.json,
metrics.jsonl and the summary line, and evaluate/predict on the folder."""
import json
import os
import random
import subprocess
import sys

import pytest

from gluon_bert.data.synthetic import COLOURS, PLACES, SUBJECTS, VERBS
from gluon_bert.data.tasks import read_task_file, task_label_names

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args):
    env = dict(os.environ, PYTHONWARNINGS='ignore', MPLBACKEND='Agg')
    return subprocess.run([sys.executable] + args, cwd=ROOT, env=env, capture_output=True,
                          text=True)


def sentence(rng, colour=None, verb=None):
    return 'a %s %s %s in the %s' % (colour or rng.choice(COLOURS), rng.choice(SUBJECTS),
                                     verb or rng.choice(VERBS), rng.choice(PLACES))


def keyword_rows(n, seed):
    """Single sentences; the label is 1 when the colour is red (a keyword
    decides), else 0.  Half are red."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        red = i % 2 == 0
        colour = 'red' if red else rng.choice([c for c in COLOURS if c != 'red'])
        rows.append((sentence(rng, colour), '1' if red else '0'))
    rng.shuffle(rows)
    return rows


FAST = ('runs', 'jumps', 'walks')


def pair_rows(n, seed):
    """Sentence pairs with 4 classes: warm/cool from the first sentence's colour
    (red, black / blue, green) and fast/slow from the second's verb."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        warm, fast = i % 2 == 0, (i // 2) % 2 == 0
        colour = rng.choice(['red', 'black'] if warm else ['blue', 'green'])
        verb = rng.choice(FAST if fast else [v for v in VERBS if v not in FAST])
        label = '%s-%s' % ('warm' if warm else 'cool', 'fast' if fast else 'slow')
        rows.append((sentence(rng, colour), sentence(rng, verb=verb), label))
    rng.shuffle(rows)
    return rows


def write_tsv(path, header, rows):
    with open(path, 'w') as f:
        f.write('\t'.join(header) + '\n')
        f.writelines('\t'.join(row) + '\n' for row in rows)
    return str(path)


# ---------------------------------------------------------------------------
# The reader


def test_reader_picks_columns_by_name_and_sorts_the_classes(tmp_path):
    path = write_tsv(tmp_path / 'a.tsv', ['id', 'label', 'text', 'extra'],
                     [('1', '10', 'one two', 'x'), ('2', '2', 'three', 'y'),
                      ('3', '-', 'no label', 'z'), ('4', '2', ' ', 'w'), ('5', '10', 'four', 'v')])
    data = read_task_file(path, ['text'], 'label')
    assert data.label_names == ['2', '10']                     # numerically sorted
    assert (data.premises, data.hypotheses, data.labels) == (['one two', 'three', 'four'], None,
                                                             [1, 0, 1])
    assert data.skipped == {'no_gold_label': 1, 'empty_sentence': 1}
    given = read_task_file(path, ['text'], 'label', labels=['10', '2'])
    assert given.label_names == ['10', '2'] and given.labels == [0, 1, 0]
    assert task_label_names(['b', 'a', 'c', 'a']) == ['a', 'b', 'c']
    pairs = read_task_file(path, ['extra', 'text'], 'id')      # other columns, other order
    assert pairs.premises == ['x', 'y', 'z', 'v']
    assert pairs.hypotheses == ['one two', 'three', 'no label', 'four']
    assert pairs.label_names == ['1', '2', '3', '5'] and pairs.skipped['empty_sentence'] == 1


def test_reader_jsonl_and_its_errors(tmp_path):
    path = tmp_path / 'a.jsonl'
    path.write_text('{"q": "is it", "s": "it is", "y": 1}\n\n{"q": "no", "s": "yes", "y": 0}\n')
    data = read_task_file(str(path), ['q', 's'], 'y')
    assert data.label_names == ['0', '1'] and data.labels == [1, 0]
    assert data.hypotheses == ['it is', 'yes']
    with pytest.raises(ValueError, match=r"a.jsonl: line 1: missing key 'label'"):
        read_task_file(str(path), ['q', 's'], 'label')
    with pytest.raises(ValueError, match=r"a.jsonl: line 3: label '0' is not one of the "
                                         r"classes 1,2 \(give them all with --labels\)"):
        read_task_file(str(path), ['q'], 'y', labels=['1', '2'])
    tsv = write_tsv(tmp_path / 'b.tsv', ['sentence', 'label'], [('a b', '1'), ('c', '0')])
    with pytest.raises(ValueError, match=r"b.tsv: line 1: the header has no text column "
                                         r"'sentence1' \(its columns: sentence, label\); name "
                                         r"it with --text-columns"):
        read_task_file(tsv, ['sentence1'], 'label')
    with pytest.raises(ValueError, match=r"b.tsv: line 1: the header has no label column "
                                         r"'gold'.*--label-column"):
        read_task_file(tsv, ['sentence'], 'gold')
    with open(tsv, 'a') as f:
        f.write('too\tmany\tcolumns\n')
    with pytest.raises(ValueError, match=r'b.tsv: line 4: expected 2 tab-separated columns, '
                                         r'found 3'):
        read_task_file(tsv, ['sentence'], 'label')


# ---------------------------------------------------------------------------
# Fine-tuning through the command


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    from conftest import make_tiny_pretrained
    return make_tiny_pretrained(str(tmp_path_factory.mktemp('pre')), seed=0, dropout=0.0)


COMMON = ['--max-len', '32', '--batch-size', '32', '--lr', '2e-3', '--no-checkpoints']


def read_outputs(folder):
    with open(os.path.join(folder, 'metrics.json')) as f:
        metrics = json.load(f)
    with open(os.path.join(folder, 'metrics.jsonl')) as f:
        records = [json.loads(line) for line in f]
    with open(os.path.join(folder, 'task.json')) as f:
        task = json.load(f)
    return metrics, records, task


def test_single_sentence_binary_task(pretrained, tmp_path):
    train = write_tsv(tmp_path / 'train.tsv', ['sentence', 'label'], keyword_rows(400, 0))
    test = write_tsv(tmp_path / 'test.tsv', ['sentence', 'label'], keyword_rows(200, 1))
    out = str(tmp_path / 'binary')
    r = run(['scripts/finetune.py', '--pretrained', pretrained, '--train-file', train,
             '--test-file', test, '--text-columns', 'sentence', '--num-epochs', '4',
             '--output', out] + COMMON)
    assert r.returncode == 0, r.stderr
    summary = [line for line in r.stdout.splitlines() if line.startswith('loss ')]
    assert len(summary) == 1 and 'test macro-F1' in summary[0] and 'test MCC' in summary[0]
    assert sum(line.startswith('epoch ') and 'test MCC' in line
               for line in r.stdout.splitlines()) == 4
    metrics, records, task = read_outputs(out)
    assert task == {'labels': ['0', '1'], 'text_columns': ['sentence'], 'label_column': 'label'}
    assert metrics['label_names'] == ['0', '1'] and metrics['num_test_examples'] == 200
    assert metrics['test_acc'] >= 0.85, records               # chance 0.5
    assert metrics['test_mcc'] >= 0.7 and metrics['test_macro_f1'] >= 0.85
    assert '%.3f' % metrics['test_mcc'] in summary[0]
    assert len(records) == 4 and all({'test_acc', 'test_macro_f1', 'test_mcc'} <= set(r)
                                     for r in records)
    # evaluate and predict read the classes and the column from the folder
    report_path = str(tmp_path / 'eval.json')
    r = run(['scripts/evaluate.py', '--model', out, '--data', test, '--json', report_path,
             '--max-len', '32'])
    assert r.returncode == 0, r.stderr
    with open(report_path) as f:
        report = json.load(f)
    assert report['class_names'] == ['0', '1'] and report['num_examples'] == 200
    assert report['accuracy'] == pytest.approx(metrics['test_acc'])
    assert report['mcc'] == pytest.approx(metrics['test_mcc'])
    r = run(['scripts/predict.py', '--model', out, '--max-len', '32',
             'a red dog runs in the park'])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == '1'
    r = run(['scripts/predict.py', '--model', out, 'a red dog', 'a second text'])
    assert r.returncode == 1 and 'classifies single sentences (column sentence): give one ' \
        'text' in r.stderr


def test_four_class_pair_task(pretrained, tmp_path):
    header = ['sentence1', 'sentence2', 'label']
    train = write_tsv(tmp_path / 'train.tsv', header, pair_rows(600, 0))
    test = write_tsv(tmp_path / 'test.tsv', header, pair_rows(200, 1))
    out = str(tmp_path / 'four')
    order = ['warm-fast', 'warm-slow', 'cool-fast', 'cool-slow']
    from gluon_bert.cli import run as run_command
    assert run_command('finetune-task', [
        '--pretrained', pretrained, '--train-file', train, '--test-file', test,
        '--labels', ','.join(order), '--num-epochs', '5', '--truncation', 'ratio',
        '--head', 'mean', '--output', out, '--no-progress'] + COMMON) == 0
    metrics, records, task = read_outputs(out)
    assert task['labels'] == order and task['text_columns'] == ['sentence1', 'sentence2']
    with open(os.path.join(out, 'config.json')) as f:
        config = json.load(f)
    assert config['num_classes'] == 4 and config['classifier_head'] == 'mean'
    assert metrics['test_acc'] >= 0.7, records                 # chance 0.25
    assert metrics['test_macro_f1'] >= 0.6 and metrics['test_mcc'] >= 0.6
    assert metrics['truncation'] == 'ratio' and metrics['labels'] == order
    from gluon_bert.inference import evaluate_file, predict_text
    report = evaluate_file(out, test, json_path=str(tmp_path / 'e.json'), max_len=32,
                           verbose=False)
    assert report['class_names'] == order
    assert report['accuracy'] == pytest.approx(metrics['test_acc'])
    result = predict_text(out, 'a red dog sits in the park', 'a blue cat runs in the house',
                          max_len=32, verbose=False)
    assert sorted(result['probabilities']) == sorted(order)


def test_bad_task_options_are_one_line_errors(pretrained, tmp_path, capsys):
    train = write_tsv(tmp_path / 'train.tsv', ['sentence', 'label'],
                      [('a red dog', 'yes'), ('a cat', 'yes')])
    from gluon_bert.cli import run as run_command
    base = ['--pretrained', pretrained, '--output', str(tmp_path / 'o'), '--no-progress',
            '--max-len', '32']
    assert run_command('finetune-task', base + ['--train-file', train]) == 1
    assert 'error: give the labelled files with --train-file and --test-file' in \
        capsys.readouterr().err
    r = run(['scripts/finetune.py'] + base + ['--train-file', train, '--test-file', train,
                                              '--text-columns', 'sentence'])
    assert r.returncode == 1
    assert "train.tsv: 1 class (yes) in column 'label': a classifier needs at least 2; " \
        "list them with --labels" in r.stderr
    r = run(['scripts/finetune.py'] + base + ['--text-columns', 'a,b,c'])
    assert r.returncode == 2 and 'one or two text columns, not 3' in r.stderr
    r = run(['scripts/finetune.py', '--help'])
    assert r.returncode == 0 and '--text-columns' in r.stdout and '--dataset' not in r.stdout
