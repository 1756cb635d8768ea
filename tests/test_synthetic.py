import collections
import os

import pytest

from gluon_bert.data import snli
from gluon_bert.data import synthetic
from gluon_bert.text.vocab import build_vocab, tokenize


def test_nli_task_deterministic():
    assert synthetic.nli_task(300, seed=1) == synthetic.nli_task(300, seed=1)
    assert synthetic.nli_task(300, seed=1) != synthetic.nli_task(300, seed=2)


def test_nli_task_balanced_and_labelled():
    premises, hypotheses, labels = synthetic.nli_task(3001, seed=0)
    assert len(premises) == len(hypotheses) == len(labels) == 3001
    counts = collections.Counter(labels)
    assert set(counts) == set(snli.LABELS.values())
    assert max(counts.values()) - min(counts.values()) <= 1


def test_nli_label_is_a_function_of_the_pair():
    data = synthetic.nli_task(6000, seed=0)
    seen = collections.defaultdict(set)
    for premise, hypothesis, label in zip(*data):
        seen[premise, hypothesis].add(label)
    assert all(len(labels) == 1 for labels in seen.values())
    # The hypothesis alone does not give the label away.
    by_hypothesis = collections.defaultdict(set)
    for premise, hypothesis, label in zip(*data):
        by_hypothesis[hypothesis].add(label)
    ambiguous = sum(len(labels) > 1 for labels in by_hypothesis.values())
    assert ambiguous > len(by_hypothesis) // 4


def test_nli_vocabulary_small_and_frequent():
    premises, hypotheses, _ = synthetic.nli_task(3000, seed=0)
    tokens = tokenize(premises + hypotheses)
    counts = collections.Counter(t for sentence in tokens for t in sentence)
    assert len(counts) < 200
    assert min(counts.values()) >= 5
    assert len(build_vocab(tokens, min_freq=5)) == len(counts) + 5


@pytest.mark.parametrize('fmt', ['tsv', 'jsonl'])
def test_write_nli_file_round_trip(tmp_path, fmt):
    path = synthetic.write_nli_file(str(tmp_path / ('train.' + fmt)), 500, seed=3, fmt=fmt)
    data = snli.read_snli_file(path)
    assert tuple(data) == tuple(synthetic.nli_task(500, seed=3))
    assert data.skipped == {'no_gold_label': 0, 'empty_sentence': 0}


def test_write_nli_file_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match='fmt'):
        synthetic.write_nli_file(str(tmp_path / 'x'), 10, fmt='csv')


def test_wikitext_deterministic():
    assert synthetic.wikitext_lines(50, seed=0) == synthetic.wikitext_lines(50, seed=0)
    assert synthetic.wikitext_lines(50, seed=0) != synthetic.wikitext_lines(50, seed=1)


def test_wikitext_layout():
    lines = synthetic.wikitext_lines(200, seed=0)
    assert all(line.startswith(' ') and line.endswith('\n') for line in lines)
    paragraphs = [line for line in lines if len(line.split(' . ')) >= 2]
    assert len(paragraphs) == 200
    assert all(line.endswith(' . \n') for line in paragraphs)
    assert any(line.startswith(' = ') and not line.startswith(' = = ') for line in lines)
    assert any(line.startswith(' = = ') for line in lines)
    assert ' \n' in lines
    # The chapter's reader: every paragraph gives at least two sentences.
    sentences = [line.strip().lower().split(' . ') for line in paragraphs]
    assert min(len(s) for s in sentences) >= 3


def test_wikitext_vocabulary_small_and_frequent():
    lines = synthetic.wikitext_lines(2000, seed=0)
    counts = collections.Counter(t for line in tokenize(lines) for t in line)
    assert 100 <= len(counts) <= 300
    assert min(counts.values()) >= 5


@pytest.mark.parametrize('share', [0.0, 0.5, 1.0])
def test_wikitext_scene_share(share):
    """`scene_share` is the probability of a scene paragraph (the NLI task's
    words, its colour repeated in a later sentence): none at 0, all at 1 (the
    demo's corpus), about half by default; the layout stays WikiText's."""
    lines = synthetic.wikitext_lines(400, seed=0, scene_share=share)
    paragraphs = [line for line in lines if len(line.split(' . ')) >= 2]
    assert len(paragraphs) == 400
    colours = set(synthetic.COLOURS)
    scenes = [line for line in paragraphs if colours & set(line.split())]
    assert all(len(line.split(' . ')) - 1 == len(synthetic._CLAIMS) + 1 for line in scenes)
    if share in (0.0, 1.0):
        assert len(scenes) == share * len(paragraphs)
    else:
        assert 0.4 < len(scenes) / len(paragraphs) < 0.6
        assert lines == synthetic.wikitext_lines(400, seed=0)
    assert any(line.startswith(' = ') for line in lines)


def test_write_wikitext(tmp_path):
    folder = synthetic.write_wikitext(str(tmp_path / 'wikitext-2'), num_paragraphs=100, seed=0)
    names = sorted(os.listdir(folder))
    assert names == ['wiki.test.tokens', 'wiki.train.tokens', 'wiki.valid.tokens']
    with open(os.path.join(folder, 'wiki.train.tokens'), encoding='utf-8') as f:
        assert f.readlines() == synthetic.wikitext_lines(100, seed=0)


def test_nli_lengths_say_nothing_of_the_label():
    """Regression: a neutral premise was one word shorter, so the pair's length
    gave the label away.  Now the length histograms of premises and of
    hypotheses are the same for every label, and the best length-only
    classifier of the training pairs is at chance on held-out pairs."""
    def lengths(data):
        return [(len(p.split()), len(h.split())) for p, h in zip(data.premises, data.hypotheses)]
    train, test = synthetic.nli_task(3000, seed=0), synthetic.nli_task(3000, seed=1)
    histograms = {}
    for label in set(train.labels):
        mine = [n for n, y in zip(lengths(train), train.labels) if y == label]
        histograms[label] = {n: c / len(mine) for n, c in collections.Counter(mine).items()}
    assert all(h == histograms[0] for h in histograms.values()), histograms
    # The majority label of each (premise length, hypothesis length) of `train`...
    by_length = collections.defaultdict(collections.Counter)
    for n, y in zip(lengths(train), train.labels):
        by_length[n][y] += 1
    guess = {n: c.most_common(1)[0][0] for n, c in by_length.items()}
    # ...is right on a third of `test`, as a constant guess is.
    right = sum(guess.get(n) == y for n, y in zip(lengths(test), test.labels))
    assert abs(right / len(test.labels) - 1 / 3) < 0.01
    # The words still vary: places and companions, sizes and colours.
    assert len(set(train.premises)) > 1000 and any(' with the ' in p for p in train.premises)
