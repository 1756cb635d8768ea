"""Pair truncation: the chapter's longest-first and the length-ratio mode
(`--truncation`), exactly, and in SNLIBERTDataset's multiprocessing
preprocessing."""
import numpy as np
import pytest

from gluon_bert.data.snli import SNLIBERTDataset, encode_pairs
from gluon_bert.text.vocab import (MIN_PAIR_LEN, WordTokenizer, build_vocab, truncate_pair,
                                   truncate_pair_by_ratio, truncate_pair_of_tokens)
from gluon_bert.train.options import FinetuneArgs, parse_args

# (premise length, hypothesis length, max_len) -> kept lengths, worked out by hand
CASES = [
    # (a, b, max_len): longest-first, ratio.  Budget B = max_len - 3.
    ((7, 3, 8), (3, 2), (4, 1)),          # B 5: 5*7/10 = 3.5 rounds up to 4
    ((100, 50, 33), (15, 15), (20, 10)),  # B 30: 30*100/150 = 20
    ((6, 3, 7), (2, 2), (3, 1)),          # B 4: 4*6/9 = 2.67 -> 3
    ((5, 4, 9), (3, 3), (3, 3)),          # B 6: 6*5/9 = 3.33 -> 3
    ((5, 5, 9), (3, 3), (3, 3)),          # B 6: even split
    ((1, 50, 13), (1, 9), (1, 9)),        # B 10: 10/51 = 0.2 -> at least 1 token
    ((50, 1, 13), (9, 1), (9, 1)),        # B 10: 9.8 -> 10, at most B - 1
    ((3, 2, 8), (3, 2), (3, 2)),          # fits exactly: nothing is cut
    ((2, 1, 8), (2, 1), (2, 1)),          # fits
]


def tokens(n, tag):
    return ['%s%d' % (tag, i) for i in range(n)]


@pytest.mark.parametrize('case,longest,ratio', CASES)
def test_exact_lengths_of_both_modes(case, longest, ratio):
    a, b, max_len = case
    for mode, expect, direct in (('longest-first', longest, truncate_pair_of_tokens),
                                 ('ratio', ratio, truncate_pair_by_ratio)):
        p, h = tokens(a, 'p'), tokens(b, 'h')
        assert truncate_pair(p, h, max_len, mode) == (p, h)           # in place
        assert (len(p), len(h)) == expect, mode
        assert p == tokens(a, 'p')[:len(p)] and h == tokens(b, 'h')[:len(h)]   # prefixes
        p2, h2 = direct(tokens(a, 'p'), tokens(b, 'h'), max_len)
        assert (p2, h2) == (p, h)


def test_ratio_total_is_exactly_the_budget_and_sides_are_proportional():
    rng = np.random.RandomState(0)
    for _ in range(2000):
        a, b = rng.randint(1, 80, 2)
        max_len = int(rng.randint(5, 100))
        budget = max_len - 3
        p, h = truncate_pair_by_ratio(tokens(a, 'p'), tokens(b, 'h'), max_len)
        if a + b <= budget:
            assert (len(p), len(h)) == (a, b)
            continue
        assert len(p) + len(h) == budget and 1 <= len(p) <= a and 1 <= len(h) <= b
        share = budget * a / (a + b)
        if 1 <= share <= budget - 1:
            assert abs(len(p) - share) <= 0.5


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match='truncation must be one of longest-first, ratio'):
        truncate_pair([], [], 8, 'middle')
    with pytest.raises(SystemExit):
        parse_args(FinetuneArgs, ['--truncation', 'middle'])
    assert parse_args(FinetuneArgs, []).truncation == 'longest-first'
    assert parse_args(FinetuneArgs, ['--truncation', 'ratio']).truncation == 'ratio'


@pytest.mark.parametrize('truncate', [truncate_pair_of_tokens, truncate_pair_by_ratio])
def test_a_budget_below_one_token_a_side_is_refused(truncate):
    """Below MIN_PAIR_LEN (<cls>, a token of each side, two <sep>) no pair fits:
    a ValueError names max_len; at MIN_PAIR_LEN each side keeps one token."""
    for max_len in range(-1, MIN_PAIR_LEN):
        with pytest.raises(ValueError, match='max_len %d is too short' % max_len):
            truncate(tokens(4, 'p'), tokens(3, 'h'), max_len)
    assert truncate(tokens(4, 'p'), tokens(3, 'h'), MIN_PAIR_LEN) == (['p0'], ['h0'])
    vocab = build_vocab([tokens(4, 'p') + tokens(3, 'h')], min_freq=1)
    with pytest.raises(ValueError, match='max_len 4 is too short'):
        encode_pairs(['p0 p1'], ['h0'], 4, WordTokenizer(vocab))
    with pytest.raises(ValueError, match='max_len 2 is too short for a sentence'):
        encode_pairs(['p0 p1'], None, 2, WordTokenizer(vocab))


def lengths_of(arrays):
    """(premise, hypothesis) token counts of encoded pairs `<cls> p <sep> h <sep>`."""
    token_ids, segments, valid_lens = arrays
    valid = np.arange(token_ids.shape[1])[None, :] < valid_lens[:, None]
    premise = ((segments == 0) & valid).sum(axis=1) - 2
    return list(zip(premise.tolist(), (valid_lens - premise - 3).tolist()))


@pytest.mark.parametrize('num_workers', [0, 2])
def test_dataset_preprocessing_uses_the_chosen_mode(num_workers):
    """SNLIBERTDataset, in a process pool (2 workers) or not, truncates with the
    mode it is given; the pairs are CASES' (as words of a vocabulary)."""
    pairs = [(' '.join(tokens(a, 'p')), ' '.join(tokens(b, 'h')), max_len)
             for (a, b, max_len), _, _ in CASES]
    vocab = build_vocab([s.split() for p, h, _ in pairs for s in (p, h)], min_freq=1)
    tok = WordTokenizer(vocab)
    for mode, column in (('longest-first', 1), ('ratio', 2)):
        for max_len in sorted({m for _, _, m in pairs}):
            chosen = [(p, h) for p, h, m in pairs if m == max_len]
            expect = [case[column] for case in CASES if case[0][2] == max_len]
            rows = [p for p, _ in chosen] * 3, [h for _, h in chosen] * 3, [0] * 3 * len(chosen)
            ds = SNLIBERTDataset(rows, max_len, tokenizer=tok, num_workers=num_workers,
                                 min_pairs_per_worker=1, truncation=mode)
            assert ds._pool_size(num_workers, 1) == max(1, min(num_workers, len(rows[0])))
            got = lengths_of((ds.all_token_ids, ds.all_segments, ds.valid_lens))
            assert got == expect * 3, (mode, max_len)
            direct = encode_pairs(rows[0], rows[1], max_len, tok, mode)
            for x, y in zip(direct, (ds.all_token_ids, ds.all_segments, ds.valid_lens)):
                np.testing.assert_array_equal(x, y)
