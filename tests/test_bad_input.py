"""Bad input, end to end through the public functions:

* an output folder that already holds a finished run is refused unless
  `overwrite` (pretraining and fine-tuning);
* a premise + hypothesis longer than max_len is truncated with a note, never an
  error (also when max_len exceeds the model's positions);
* SNLI files with a wrong number of columns, an unknown label or invalid UTF-8
  given to `run_finetuning` fail with an error naming the file and the line.
"""
import os
import re
import warnings

import numpy as np
import pytest

TINY = dict(num_hiddens=32, ffn_num_hiddens=32, num_heads=2, num_blks=1)
LONG = ' '.join(['the brown dog runs in the park with a small boy'] * 8)


FINETUNE = dict(dataset='synthetic', max_train_examples=48, max_test_examples=16, max_len=32,
                batch_size=16, num_epochs=1, lr=1e-3, progress=False, num_workers=1)


def finetune_run(output, **options):
    from gluon_bert.train.jobs import run_finetuning
    from gluon_bert.train.options import FinetuneArgs
    return run_finetuning(FinetuneArgs(output=output, **dict(FINETUNE, **options)))


def pretrain_run(output, **options):
    from gluon_bert.train.jobs import run_pretraining
    from gluon_bert.train.options import PretrainArgs
    return run_pretraining(PretrainArgs(output=output, **options), model_overrides=TINY)


@pytest.fixture(scope='module')
def runs(tmp_path_factory, tiny_pretrained):
    base = tmp_path_factory.mktemp('runs')
    pretrained = tiny_pretrained(str(base / 'pre'), seed=1, dropout=0.1)
    finetuned = str(base / 'finetune')
    finetune_run(finetuned, pretrained=pretrained)
    return pretrained, finetuned


# ---------------------------------------------------------------------------
# Finished runs


def test_finished_pretraining_is_refused_unless_overwrite(tmp_path):
    out = str(tmp_path / 'pre')
    args = dict(dataset='synthetic', synthetic_paragraphs=30, num_steps=2, batch_size=8,
                max_len=32, log_interval=1, progress=False)
    pretrain_run(out, **args)
    stamp = os.path.getmtime(os.path.join(out, 'model.params'))
    with pytest.raises(FileExistsError, match=re.escape(out) + '.*finished run.*--overwrite'):
        pretrain_run(out, **args)
    with pytest.raises(FileExistsError, match='finished run'):
        pretrain_run(out, resume=True, **args)
    assert os.path.getmtime(os.path.join(out, 'model.params')) == stamp   # untouched
    pretrain_run(out, overwrite=True, **args)
    assert os.path.exists(os.path.join(out, 'summary.json'))


def test_finished_finetuning_is_refused_unless_overwrite(runs, tmp_path):
    pretrained, _ = runs
    out = str(tmp_path / 'ft')
    finetune_run(out, pretrained=pretrained)
    with open(os.path.join(out, 'metrics.json')) as f:
        before = f.read()
    with pytest.raises(FileExistsError, match=re.escape(out) + '.*finished run.*--overwrite'):
        finetune_run(out, pretrained=pretrained)
    with open(os.path.join(out, 'metrics.json')) as f:
        assert f.read() == before
    summary = finetune_run(out, pretrained=pretrained, overwrite=True)
    assert summary['num_epochs'] == 1


def test_unfinished_run_with_checkpoints_needs_resume_or_overwrite(runs, tmp_path):
    from gluon_bert.train import checkpoint as state
    pretrained, _ = runs
    out = str(tmp_path / 'ft')
    finetune_run(out, pretrained=pretrained)
    os.remove(os.path.join(out, 'metrics.json'))          # as if it had been interrupted
    assert state.list_checkpoints(os.path.join(out, 'checkpoints'))
    with pytest.raises(FileExistsError, match='checkpoints of an earlier run.*--resume'):
        finetune_run(out, pretrained=pretrained)
    finetune_run(out, pretrained=pretrained, overwrite=True)


# ---------------------------------------------------------------------------
# Pairs longer than max_len


def test_long_pair_is_truncated_with_a_note(runs, capsys):
    from gluon_bert.inference import predict_text
    _, finetuned = runs
    result = predict_text(finetuned, LONG, LONG, max_len=32)
    out = capsys.readouterr().out
    assert result['truncated'] is True
    assert 'note:' in out and 'truncated' in out
    assert abs(sum(result['probabilities'].values()) - 1) < 1e-5
    short = predict_text(finetuned, 'a dog runs', 'a dog runs', max_len=32, verbose=False)
    assert short['truncated'] is False


def test_predict_pair_truncates_and_caps_max_len_at_the_model(runs):
    from gluon_bert.model.folders import load_classifier
    from gluon_bert.inference import predict_pair
    _, finetuned = runs
    net, tokenizer = load_classifier(finetuned)
    label, probs, truncated = predict_pair(net, tokenizer, LONG, 'a dog', max_len=16)
    assert truncated and 0 <= label < 3 and np.isclose(probs.sum(), 1, atol=1e-5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        label2, probs2, truncated2 = predict_pair(net, tokenizer, LONG, LONG, max_len=512)
    assert truncated2 and np.isfinite(probs2).all()
    assert any('exceeds the 32 positions' in str(w.message) for w in caught)
    with pytest.raises(ValueError, match='non-empty'):
        predict_pair(net, tokenizer, '   ', 'a dog')


# ---------------------------------------------------------------------------
# Broken SNLI files


GOOD = ('gold_label\tsentence1\tsentence2\n'
        'entailment\ta dog runs in the park\ta dog runs\n'
        'contradiction\ta cat sleeps\ta cat runs\n'
        'neutral\ta man sits in the house\ta boy sits in the house\n')


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    return str(path)


@pytest.mark.parametrize('name, content, line, what', [
    ('columns.tsv', GOOD + 'neutral\tonly two columns\n', 5, 'expected 3 tab-separated columns, found 2'),
    ('label.tsv', GOOD.replace('contradiction', 'maybe'), 3, "unknown label 'maybe'"),
    ('utf8.tsv', GOOD.encode('utf-8').replace(b'a cat sleeps', b'a c\xffat sleeps'), 3,
     'invalid UTF-8'),
    ('json.jsonl', '{"gold_label": "neutral", "sentence1": "a", "sentence2": "b"}\n{"gold_label": ',
     2, 'invalid JSON'),
])
def test_broken_snli_file_names_file_and_line(runs, tmp_path, name, content, line, what):
    pretrained, _ = runs
    bad = write(tmp_path / name, content)
    good = write(tmp_path / 'good.tsv', GOOD)
    args = dict(dataset='snli', max_train_examples=None, max_test_examples=None)
    for train, test in ((bad, good), (good, bad)):
        with pytest.raises(ValueError) as info:
            finetune_run(str(tmp_path / 'out'), pretrained=pretrained, train_file=train,
                         test_file=test, overwrite=True, **args)
        message = str(info.value)
        assert message.startswith('%s: line %d: ' % (bad, line)), message
        assert what in message, message


# ---------------------------------------------------------------------------
# Nothing to train on


def test_pretraining_without_pairs_is_refused(tmp_path):
    """Regression: with no sentence pair (one-sentence paragraphs, or pairs longer
    than --max-len) pretraining spun forever without a step."""
    folder = tmp_path / 'corpus'
    folder.mkdir()
    (folder / 'wiki.train.tokens').write_text(' = Title = \n' + ' a line without a stop\n' * 20)
    with pytest.raises(ValueError, match='0 sentence pairs from 0 paragraphs.*at least 2 '
                                         'sentences'):
        pretrain_run(str(tmp_path / 'out'), data_dir=str(folder), num_steps=3, batch_size=4,
                     max_len=32, progress=False)
    from gluon_bert.data.synthetic import write_wikitext
    write_wikitext(str(folder), 30, seed=0)
    with pytest.raises(ValueError, match=r'0 sentence pairs from \d+ paragraphs.*--max-len 8'):
        pretrain_run(str(tmp_path / 'out2'), data_dir=str(folder), num_steps=3, batch_size=4,
                     max_len=8, progress=False)


def test_an_empty_training_set_is_refused_before_any_step():
    import mxnet as mx
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    from gluon_bert.model.config import BERTConfig
    from gluon_bert.train.finetune import finetune
    from gluon_bert.train.options import FinetuneArgs
    from gluon_bert.compare.batches import NLIArrays
    net = BERTClassifier(BERTModel(BERTConfig(vocab_size=20, **TINY)))
    net.initialize(mx.init.Xavier())
    empty = NLIArrays(np.zeros((0, 8)), np.zeros((0, 8)), np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match='no training batch can be formed'):
        finetune(net, empty, None, [mx.cpu()], FinetuneArgs(progress=False))
