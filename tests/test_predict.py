"""Batch prediction: `predict --file` gives, pair by pair, what the one-pair
form gives; marks truncated pairs; reads files without labels; names the file
and line of a bad row."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gluon_bert.cli import run as run_command
from gluon_bert.data.snli import LABEL_NAMES
from gluon_bert.data.synthetic import nli_task
from gluon_bert.inference import predict_file, predict_pair
from gluon_bert.model.folders import load_classifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LONG = ' '.join(['a red dog runs in the park with a cat'] * 4)      # > 32 tokens


def write(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return str(path)


def unlabelled_pairs():
    premises, hypotheses, _ = nli_task(45, seed=7)
    return list(premises) + [LONG], list(hypotheses) + ['the dog is red']


def test_batch_predictions_equal_one_pair_predictions(finetuned_model, tmp_path):
    premises, hypotheses = unlabelled_pairs()
    rows = ''.join('%s\t%s\n' % pair for pair in zip(premises, hypotheses))
    path = write(tmp_path / 'pairs.tsv', 'sentence1\tsentence2\n' + rows)   # no label column
    out = str(tmp_path / 'preds.jsonl')
    assert run_command('predict', ['--model', finetuned_model, '--file', path, '--output', out,
                                   '--batch-size', '8', '--no-progress']) == 0
    with open(out) as f:
        preds = [json.loads(line) for line in f]
    assert len(preds) == len(premises)
    net, tokenizer = load_classifier(finetuned_model)
    for i, (p, h, pred) in enumerate(zip(premises, hypotheses, preds)):
        label, probs, truncated = predict_pair(net, tokenizer, p, h, max_len=32)
        assert pred['label'] == LABEL_NAMES[label]
        assert sorted(pred['probabilities']) == sorted(LABEL_NAMES)
        np.testing.assert_allclose([pred['probabilities'][n] for n in LABEL_NAMES], probs,
                                   atol=1e-5)
        assert pred['truncated'] == truncated
        assert pred['line'] == i + 2                     # after the header
    # Only the over-long pair is truncated (max_len 32 of the fine-tuning's args.json).
    assert [pred['truncated'] for pred in preds] == [False] * (len(preds) - 1) + [True]
    # The labels are not all the same: the model's outputs differ between pairs.
    assert len({tuple(pred['probabilities'].values()) for pred in preds}) > 1


@pytest.mark.parametrize('fmt', ['jsonl', 'snli'])
def test_every_training_format_without_labels(finetuned_model, tmp_path, fmt, capsys):
    """JSON lines without a label key, and the official SNLI TSV whose `-` labels
    (no gold label) are predicted too; without --output to stdout."""
    premises, hypotheses = unlabelled_pairs()
    if fmt == 'jsonl':
        text = ''.join(json.dumps({'premise': p, 'hypothesis': h}) + '\n'
                       for p, h in zip(premises, hypotheses))
    else:
        names = ['gold_label', 'sentence1_binary_parse', 'sentence2_binary_parse']
        text = '\t'.join(names) + '\n' + ''.join(
            '-\t( %s )\t( %s )\n' % (p, h) for p, h in zip(premises, hypotheses))
    path = write(tmp_path / ('pairs.' + fmt), text)
    results = predict_file(finetuned_model, path, batch_size=16, progress=False)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == results and len(results) == len(premises)
    assert results[-1]['truncated'] and not results[0]['truncated']


def test_bad_line_is_one_error_naming_file_and_line(finetuned_model, tmp_path):
    path = write(tmp_path / 'bad.tsv', 'sentence1\tsentence2\na dog runs\tthe dog is red\n'
                                       'only one column\n')
    out = tmp_path / 'preds.jsonl'
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'predict.py'), '--model',
                        finetuned_model, '--file', path, '--output', str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1, r.stderr
    assert ('error: %s: line 3: expected 2 tab-separated columns, found 1' % path) in r.stderr
    assert 'Traceback' not in r.stderr and not out.exists()
    path = write(tmp_path / 'bad.jsonl', '{"premise": "a dog runs", "hypothesis": "x"}\n'
                                         '{"premise": "a dog runs"\n')
    assert run_command('predict', ['--model', finetuned_model, '--file', path]) == 1


@pytest.mark.parametrize('command, script', [('predict', 'predict.py'), ('evaluate', 'evaluate.py'),
                                             ('compare', 'compare_pytorch.py')])
def test_max_len_below_a_pair_is_one_error_line(finetuned_model, tmp_path, command, script):
    """A --max-len no pair fits in is refused when the options are parsed: one
    `error:` line naming the option and the minimum, no traceback."""
    args = {'predict': ['--model', finetuned_model, 'a man sleeps', 'a man is awake'],
            'evaluate': ['--model', finetuned_model, '--data', str(tmp_path / 'none.tsv')],
            'compare': ['--dataset', 'synthetic']}[command]
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', script), '--max-len', '2']
                       + args, capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1 and 'argument --max-len: must be at least 5' in errors[0], r.stderr
    if command == 'predict':             # the minimum itself is accepted
        assert run_command('predict', ['--max-len', '5'] + args) == 0


def test_progress_bar_goes_to_stderr(finetuned_model, tmp_path, capsys):
    premises, hypotheses = unlabelled_pairs()
    path = write(tmp_path / 'pairs.jsonl', ''.join(
        json.dumps({'sentence1': p, 'sentence2': h}) + '\n' for p, h in zip(premises, hypotheses)))
    predict_file(finetuned_model, path, output=str(tmp_path / 'p.jsonl'), progress=True)
    captured = capsys.readouterr()
    assert captured.out == '' and 'predict' in captured.err and '%d/%d' % (
        len(premises), len(premises)) in captured.err
