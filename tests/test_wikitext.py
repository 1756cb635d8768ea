"""Pretraining examples: paragraphs, next sentence pairs, masking, padding."""
import random

import numpy as np
import pytest

from gluon_bert.text import vocab as text
from gluon_bert.data.wikitext import (TRAIN_FILE, WikiTextDataset, pretraining_dataset,
                                 read_wiki)

MAX_LEN = 48


def make_paragraphs(num_paragraphs=1400, num_words=150, seed=1):
    """Paragraphs of 2-6 random sentences (3-14 words) over a small vocabulary."""
    rng = random.Random(seed)
    words = ['w%d' % i for i in range(num_words)]
    return [[' '.join(rng.choice(words) for _ in range(rng.randint(3, 14)))
             for _ in range(rng.randint(2, 6))] for _ in range(num_paragraphs)]


@pytest.fixture(scope='module')
def paragraphs():
    return make_paragraphs()


@pytest.fixture(scope='module')
def dataset(paragraphs):
    return WikiTextDataset(paragraphs, max_len=MAX_LEN, min_freq=1, seed=0)


def restored_ids(ds):
    """Token ids with every MLM target put back to its label."""
    ids = ds.all_token_ids.copy()
    rows, slots = np.nonzero(ds.all_mlm_weights)
    ids[rows, ds.all_pred_positions[rows, slots]] = ds.all_mlm_labels[rows, slots]
    return ids


def split_pair(ids, segments, valid_len):
    """(a, b) token id tuples of `<cls> a <sep> b <sep>`."""
    n = int(valid_len)
    start_b = int(np.argmax(segments[:n] == 1))
    return tuple(ids[1:start_b - 1]), tuple(ids[start_b:n - 1])


# ---------------------------------------------------------------- read_wiki

def write_lines(path, lines, mode='w'):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == 'wb':
        path.write_bytes(lines)
    else:
        path.write_text(''.join(lines), encoding='utf-8')
    return path


def test_read_wiki_keeps_multi_sentence_lines_lower_cased(tmp_path):
    write_lines(tmp_path / TRAIN_FILE, [
        ' \n', ' = Valkyria Chronicles = \n', ' One sentence only , here \n',
        ' The First sentence . The Second one . And a third \n',
        ' Two parts . Here \n'])
    paragraphs = read_wiki(str(tmp_path))
    assert sorted(paragraphs) == [['the first sentence', 'the second one', 'and a third'],
                                  ['two parts', 'here']]
    assert read_wiki(str(tmp_path / TRAIN_FILE)) == paragraphs  # the file itself


def test_read_wiki_trailing_period_as_the_chapter(tmp_path):
    # The chapter filters on the raw line: ' x . \n' splits into two parts, so it
    # is kept, as a one-sentence paragraph once stripped.
    write_lines(tmp_path / TRAIN_FILE, [' Ends with a period . \n'])
    assert read_wiki(str(tmp_path)) == [['ends with a period .']]


def test_read_wiki_shuffle_is_seeded(tmp_path):
    write_lines(tmp_path / TRAIN_FILE, [' s%d a . s%d b \n' % (i, i) for i in range(50)])
    state = random.getstate()
    first = read_wiki(str(tmp_path), seed=3)
    assert random.getstate() == state
    assert read_wiki(str(tmp_path), seed=3) == first
    assert read_wiki(str(tmp_path), seed=4) != first
    assert sorted(first) == sorted(read_wiki(str(tmp_path), seed=4))


def test_read_wiki_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=TRAIN_FILE):
        read_wiki(str(tmp_path))


def test_read_wiki_invalid_utf8_names_file_and_line(tmp_path):
    path = write_lines(tmp_path / TRAIN_FILE,
                       b' a . b \n c . d \n bad \xff byte . e \n', mode='wb')
    with pytest.raises(ValueError, match=r'%s.*line 3' % TRAIN_FILE) as err:
        read_wiki(str(tmp_path))
    assert str(path) in str(err.value)


# ---------------------------------------------------------- dataset layout

def test_arrays_dtypes_shapes_and_items(dataset, paragraphs):
    n, p = len(dataset), round(MAX_LEN * 0.15)
    expected = [('all_token_ids', np.int32, (n, MAX_LEN)),
                ('all_segments', np.int32, (n, MAX_LEN)),
                ('valid_lens', np.float32, (n,)),
                ('all_pred_positions', np.int32, (n, p)),
                ('all_mlm_weights', np.float32, (n, p)),
                ('all_mlm_labels', np.int32, (n, p)),
                ('nsp_labels', np.int32, (n,))]
    for name, dtype, shape in expected:
        array = getattr(dataset, name)
        assert array.dtype == dtype and array.shape == shape, name
    item = dataset[5]
    assert len(item) == 7
    for (name, _, _), value in zip(expected, item):
        np.testing.assert_array_equal(value, getattr(dataset, name)[5])
    assert n == dataset.num_pairs > 2000
    assert dataset.num_paragraphs == len(paragraphs)
    assert isinstance(dataset.tokenizer, text.WordTokenizer)
    assert dataset.tokenizer.vocab is dataset.vocab


def test_pair_structure_and_padding(dataset):
    tok = dataset.tokenizer
    ids, segs, lens = dataset.all_token_ids, dataset.all_segments, dataset.valid_lens
    restored = restored_ids(dataset)
    for i in range(len(dataset)):
        n = int(lens[i])
        assert n <= MAX_LEN
        a, b = split_pair(restored[i], segs[i], n)
        assert n == len(a) + len(b) + 3
        assert ids[i, 0] == tok.cls_id
        assert ids[i, len(a) + 1] == tok.sep_id and ids[i, n - 1] == tok.sep_id
        assert (ids[i, n:] == tok.pad_id).all()
        assert (segs[i, :len(a) + 2] == 0).all() and (segs[i, len(a) + 2:n] == 1).all()
        assert (segs[i, n:] == 0).all()


def test_long_pairs_are_skipped():
    # The true pair has 10 + 30 + 3 > 24 tokens; only a random second sentence
    # drawn as the short one again fits.
    paragraphs = [['a ' * 10, 'b ' * 30]]
    lengths, labels = [], []
    for seed in range(20):
        ds = WikiTextDataset(paragraphs, max_len=24, min_freq=1, seed=seed)
        lengths += ds.valid_lens.tolist()
        labels += ds.nsp_labels.tolist()
    assert 0 < len(lengths) < 20
    assert set(lengths) == {23.0} and set(labels) == {0}


def test_all_pairs_kept_when_they_fit(dataset, paragraphs):
    # Sentences have at most 14 words: every pair fits in MAX_LEN.
    assert dataset.num_pairs == sum(len(p) - 1 for p in paragraphs)


# ---------------------------------------------------------- determinism

def test_same_seed_same_arrays_other_seed_differs(paragraphs):
    state, np_state = random.getstate(), np.random.get_state()
    first = WikiTextDataset(paragraphs, max_len=MAX_LEN, min_freq=1, seed=7)
    again = WikiTextDataset(paragraphs, max_len=MAX_LEN, min_freq=1, seed=7)
    other = WikiTextDataset(paragraphs, max_len=MAX_LEN, min_freq=1, seed=8)
    assert random.getstate() == state
    assert all(np.array_equal(a, b) for a, b in zip(np_state, np.random.get_state()))
    names = ['all_token_ids', 'all_segments', 'valid_lens', 'all_pred_positions',
             'all_mlm_weights', 'all_mlm_labels', 'nsp_labels']
    for name in names:
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.nsp_labels, other.nsp_labels)
    assert not np.array_equal(first.all_pred_positions, other.all_pred_positions)


def test_redraw_gives_new_masks_and_partners_and_the_same_for_the_same_draw(paragraphs):
    """Dynamic masking: each draw number gives other MLM positions, replacements
    and NSP partners over the same sentences; draw 0 is the dataset as built, and
    a draw repeated (as a resumed run does) gives the same arrays."""
    names = WikiTextDataset.ARRAYS
    ds = WikiTextDataset(paragraphs, max_len=MAX_LEN, min_freq=1, seed=7)
    built = {name: getattr(ds, name).copy() for name in names}
    ds.redraw(1)
    first = {name: getattr(ds, name).copy() for name in names}
    assert len(ds) == ds.num_pairs and abs(len(ds) - len(built['nsp_labels'])) < 50
    n = min(len(ds), len(built['nsp_labels']))
    assert not np.array_equal(first['nsp_labels'][:n], built['nsp_labels'][:n])
    moved = (first['all_pred_positions'][:n] != built['all_pred_positions'][:n]).any(axis=1)
    assert moved.mean() > 0.5
    assert 0.45 < first['nsp_labels'].mean() < 0.55
    # The first sentences are the corpus' consecutive pairs either way: the
    # restored `a` sides of the pairs are the same multiset of sentences.
    def a_sides(arrays):
        ids = arrays['all_token_ids'].copy()
        rows, slots = np.nonzero(arrays['all_mlm_weights'])
        ids[rows, arrays['all_pred_positions'][rows, slots]] = arrays['all_mlm_labels'][rows, slots]
        return sorted(split_pair(i, s, v)[0] for i, s, v in
                      zip(ids, arrays['all_segments'], arrays['valid_lens']))
    assert len(set(a_sides(first)) & set(a_sides(built))) > 0.9 * len(set(a_sides(built)))
    ds.redraw(2)
    assert not np.array_equal(ds.all_pred_positions[:n], first['all_pred_positions'][:n])
    ds.redraw(1)
    for name in names:
        np.testing.assert_array_equal(getattr(ds, name), first[name])
    ds.redraw(0)
    for name in names:
        np.testing.assert_array_equal(getattr(ds, name), built[name])
    other_seed = WikiTextDataset(paragraphs, max_len=MAX_LEN, min_freq=1, seed=8)
    other_seed.redraw(1)
    assert not np.array_equal(other_seed.all_pred_positions[:n], first['all_pred_positions'][:n])


# ---------------------------------------------------------- NSP

def test_nsp_half_true_next_sentences(dataset, paragraphs):
    assert abs(dataset.nsp_labels.mean() - 0.5) < 0.04
    ids = lambda s: tuple(dataset.tokenizer.to_ids(s.split()))  # noqa: E731
    consecutive = {(ids(p[i]), ids(p[i + 1])) for p in paragraphs for i in range(len(p) - 1)}
    all_sentences = {ids(s) for p in paragraphs for s in p}
    restored = restored_ids(dataset)
    num_consecutive_negatives = 0
    for i in range(len(dataset)):
        a, b = split_pair(restored[i], dataset.all_segments[i], dataset.valid_lens[i])
        assert a in all_sentences and b in all_sentences
        if dataset.nsp_labels[i] == 1:
            assert (a, b) in consecutive
        else:
            num_consecutive_negatives += (a, b) in consecutive
    # A random sentence is rarely the true next one.
    assert num_consecutive_negatives < 0.02 * len(dataset)


# ---------------------------------------------------------- MLM

def test_mlm_number_and_positions_of_targets(dataset):
    tok = dataset.tokenizer
    restored = restored_ids(dataset)
    for i in range(len(dataset)):
        n = int(dataset.valid_lens[i])
        count = int(dataset.all_mlm_weights[i].sum())
        assert count == max(1, round(n * 0.15))
        assert (dataset.all_mlm_weights[i, :count] == 1).all()
        positions = dataset.all_pred_positions[i, :count]
        assert (np.diff(positions) > 0).all()           # sorted, distinct
        assert (positions > 0).all() and (positions < n - 1).all()
        assert not np.isin(restored[i, positions], list(tok.special_ids)).any()
        np.testing.assert_array_equal(dataset.all_mlm_labels[i, :count], restored[i, positions])
        # Prediction padding.
        assert (dataset.all_pred_positions[i, count:] == 0).all()
        assert (dataset.all_mlm_weights[i, count:] == 0).all()
        assert (dataset.all_mlm_labels[i, count:] == 0).all()


def test_mlm_80_10_10(dataset):
    tok = dataset.tokenizer
    rows, slots = np.nonzero(dataset.all_mlm_weights)
    inputs = dataset.all_token_ids[rows, dataset.all_pred_positions[rows, slots]]
    labels = dataset.all_mlm_labels[rows, slots]
    assert len(inputs) > 10000
    masked = inputs == tok.mask_id
    kept = inputs == labels
    replaced = ~masked & ~kept
    assert abs(masked.mean() - 0.8) < 0.02
    assert abs(kept.mean() - 0.1) < 0.02
    assert abs(replaced.mean() - 0.1) < 0.02
    unk = dataset.vocab.token_to_idx['<unk>']
    assert not np.isin(inputs[replaced], list(tok.special_ids) + [unk]).any()


def test_special_tokens_only_where_expected(dataset):
    tok = dataset.tokenizer
    ids = dataset.all_token_ids
    cols = np.arange(MAX_LEN)
    n = dataset.valid_lens.astype(int)[:, None]
    is_target = np.zeros(ids.shape, dtype=bool)
    rows, slots = np.nonzero(dataset.all_mlm_weights)
    is_target[rows, dataset.all_pred_positions[rows, slots]] = True
    assert ((ids == tok.mask_id) <= is_target).all()
    assert ((ids == tok.pad_id) == (cols >= n)).all()
    assert ((ids == tok.cls_id) == (cols == 0)).all()
    assert ((ids == tok.sep_id).sum(axis=1) == 2).all()


# ---------------------------------------------------------- vocabulary

def test_vocab_min_freq_and_reserved_tokens():
    paragraphs = [['often ' * 5 + 'rare rare', 'often twice twice ' * 2]]
    ds = WikiTextDataset(paragraphs, max_len=64, seed=0)
    tokens = set(ds.vocab.idx_to_token)
    assert {'<unk>', '<pad>', '<mask>', '<cls>', '<sep>'} <= tokens
    assert 'often' in tokens                      # 7 times
    assert 'rare' not in tokens and 'twice' not in tokens  # 2 and 4 times
    unk = ds.vocab.token_to_idx['<unk>']
    assert unk in restored_ids(ds)[0]


def test_given_vocab_is_used(dataset, paragraphs):
    small = WikiTextDataset(paragraphs[:20], max_len=MAX_LEN, vocab=dataset.vocab, seed=1)
    assert small.vocab is dataset.vocab
    assert len(small.vocab) == len(dataset.vocab)


def test_empty_input_gives_empty_dataset(dataset):
    ds = WikiTextDataset([], max_len=MAX_LEN, vocab=dataset.vocab)
    assert len(ds) == 0 and ds.all_token_ids.shape == (0, MAX_LEN)


def test_pretraining_dataset_from_folder_or_file(tmp_path):
    lines = [' . '.join(p) + ' \n' for p in make_paragraphs(60, 20, seed=2)]
    write_lines(tmp_path / 'wikitext-2' / TRAIN_FILE, lines)
    from_parent = pretraining_dataset(str(tmp_path), max_len=32, seed=5)
    from_file = pretraining_dataset(str(tmp_path / 'wikitext-2' / TRAIN_FILE), max_len=32, seed=5)
    assert len(from_parent) > 50
    np.testing.assert_array_equal(from_parent.all_token_ids, from_file.all_token_ids)
