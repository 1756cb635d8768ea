import collections
import json

import gluonnlp as nlp
import numpy as np
import pytest

from gluon_bert.data import snli
from gluon_bert.text.vocab import WordTokenizer, build_vocab, tokenize

OFFICIAL_HEADER = ('gold_label\tsentence1_binary_parse\tsentence2_binary_parse\t'
                   'sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tcaptionID\t'
                   'pairID\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5')


def official_row(label, binary1, binary2):
    cols = [label, binary1, binary2, '(ROOT ...)', '(ROOT ...)', 'raw one', 'raw two',
            '1.jpg#0', '1.jpg#0r1n', label, '', '', '', '']
    return '\t'.join(cols)


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text(''.join(line + '\n' for line in lines), encoding='utf-8')
    return str(path)


def test_labels():
    assert snli.LABELS == {'entailment': 0, 'contradiction': 1, 'neutral': 2}
    assert [snli.LABELS[name] for name in snli.LABEL_NAMES] == [0, 1, 2]


def test_official_format(tmp_path):
    path = write(tmp_path, 'snli_1.0_dev.txt', [
        OFFICIAL_HEADER,
        official_row('neutral', '( ( A person ) ( on ( a horse ) ) )', '( ( A person ) ( is ( training ( his horse ) ) ) )'),
        official_row('-', '( A dog )', '( A cat )'),
        official_row('contradiction', '( ( Two   women ) ( are ( embracing . ) ) )', '( The ( sisters ( are hugging ) ) )'),
        official_row('entailment', '( Children smiling )', '( ( Two kids ) ( are smiling ) )'),
        official_row('-', '( A man )', '( A woman )'),
    ])
    data = snli.read_snli_file(path)
    assert data.premises == ['A person on a horse', 'Two women are embracing .', 'Children smiling']
    assert data.hypotheses == ['A person is training his horse', 'The sisters are hugging',
                               'Two kids are smiling']
    assert data.labels == [2, 1, 0]
    assert data.skipped == {'no_gold_label': 2, 'empty_sentence': 0}
    assert data.path == path
    premises, hypotheses, labels = data            # unpacks like the chapter's triple
    assert labels == [2, 1, 0]


def test_read_snli_split(tmp_path):
    write(tmp_path, 'snli_1.0_test.txt', [OFFICIAL_HEADER, official_row('entailment', '( a b )', '( a )')])
    assert snli.read_snli(str(tmp_path), 'test').labels == [0]
    with pytest.raises(FileNotFoundError, match='snli_1.0_train.txt'):
        snli.read_snli(str(tmp_path), 'train')
    with pytest.raises(ValueError, match='split'):
        snli.read_snli(str(tmp_path), 'validation')


def test_simple_tsv_any_column_order(tmp_path):
    path = write(tmp_path, 'pairs.tsv', [
        'sentence2\tgold_label\tsentence1',
        'a dog runs\tentailment\ta brown dog runs fast',
        '',
        'a cat\tneutral\ta dog',
        'nobody\t-\tsomebody',
    ])
    data = snli.read_snli_file(path)
    assert data.premises == ['a brown dog runs fast', 'a dog']
    assert data.hypotheses == ['a dog runs', 'a cat']
    assert data.labels == [0, 2]
    assert data.skipped['no_gold_label'] == 1


def test_simple_tsv_premise_hypothesis_names(tmp_path):
    path = write(tmp_path, 'pairs.tsv', ['label\tpremise\thypothesis', 'contradiction\tp\th'])
    data = snli.read_snli_file(path)
    assert (data.premises, data.hypotheses, data.labels) == (['p'], ['h'], [1])


def test_jsonl(tmp_path):
    rows = [{'gold_label': 'neutral', 'sentence1': 'a b', 'sentence2': 'c'},
            {'label': 1, 'premise': 'd e', 'hypothesis': 'f'},
            {'gold_label': '-', 'sentence1': 'x', 'sentence2': 'y'},
            {'label': 0, 'premise': 'g', 'hypothesis': '  '}]
    path = write(tmp_path, 'pairs.jsonl', [json.dumps(row) for row in rows])
    data = snli.read_snli_file(path)
    assert data.premises == ['a b', 'd e']
    assert data.hypotheses == ['c', 'f']
    assert data.labels == [2, 1]
    assert data.skipped == {'no_gold_label': 1, 'empty_sentence': 1}


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path, 'bad.tsv', ['gold_label\tsentence1\tsentence2',
                                        'entailment\ta\tb', 'neutral\tonly two'])
    with pytest.raises(ValueError, match=r'bad\.tsv: line 3: .*columns'):
        snli.read_snli_file(path)


def test_unknown_label(tmp_path):
    path = write(tmp_path, 'bad.tsv', ['gold_label\tsentence1\tsentence2', 'maybe\ta\tb'])
    with pytest.raises(ValueError, match=r"line 2: unknown label 'maybe'"):
        snli.read_snli_file(path)
    path = write(tmp_path, 'bad.jsonl', [json.dumps({'label': 3, 'premise': 'a', 'hypothesis': 'b'})])
    with pytest.raises(ValueError, match=r'line 1: unknown label 3'):
        snli.read_snli_file(path)


def test_invalid_utf8_line_number(tmp_path):
    path = tmp_path / 'bad.tsv'
    path.write_bytes(b'gold_label\tsentence1\tsentence2\nentailment\ta\tb\n'
                     b'neutral\tcaf\xe9\tb\n')
    with pytest.raises(ValueError, match=r'bad\.tsv: line 3: invalid UTF-8'):
        snli.read_snli_file(str(path))


def test_invalid_json_line_number(tmp_path):
    path = write(tmp_path, 'bad.jsonl', [json.dumps({'label': 0, 'premise': 'a', 'hypothesis': 'b'}),
                                          '{"label": 0, "premise": '])
    with pytest.raises(ValueError, match=r'bad\.jsonl: line 2: invalid JSON'):
        snli.read_snli_file(path)


def test_unrecognised_header(tmp_path):
    path = write(tmp_path, 'bad.tsv', ['entailment\ta\tb'])
    with pytest.raises(ValueError, match='line 1: unrecognised header'):
        snli.read_snli_file(path)


def test_empty_sentence_is_counted_skip(tmp_path):
    path = write(tmp_path, 'pairs.tsv', ['gold_label\tsentence1\tsentence2',
                                          'entailment\t \tb', 'neutral\ta\tb'])
    data = snli.read_snli_file(path)
    assert data.labels == [2]
    assert data.skipped == {'no_gold_label': 0, 'empty_sentence': 1}
    path = write(tmp_path, 'official.txt', [OFFICIAL_HEADER, official_row('entailment', '( ( ) )', '( a )')])
    assert snli.read_snli_file(path).skipped['empty_sentence'] == 1


def test_reader_returns_all_examples(tmp_path):
    rows = ['%s\tpremise number %d\thypothesis %d' % (snli.LABEL_NAMES[i % 3], i, i) for i in range(1234)]
    data = snli.read_snli_file(write(tmp_path, 'many.tsv', ['gold_label\tsentence1\tsentence2'] + rows))
    assert len(data.labels) == data.num_examples == 1234
    assert data.premises[-1] == 'premise number 1233'


# ---------------------------------------------------------------------------
# SNLIBERTDataset


def make_tokenizer(sentences, min_freq=1):
    return WordTokenizer(build_vocab(tokenize(sentences), min_freq=min_freq))


def test_bert_layout_and_labels():
    premises, hypotheses = ['A dog runs', 'the cat'], ['a dog', 'a cat sleeps here']
    tok = make_tokenizer(premises + hypotheses)
    ds = snli.SNLIBERTDataset((premises, hypotheses, [0, 2]), max_len=10, tokenizer=tok, num_workers=0)
    assert len(ds) == ds.num_examples == 2
    for arr in (ds.all_token_ids, ds.all_segments, ds.valid_lens, ds.labels):
        assert arr.dtype == np.int32
    (token_ids, segments, valid_len), label = ds[0]
    expected = ([tok.cls_id] + tok.to_ids(['a', 'dog', 'runs']) + [tok.sep_id]
                + tok.to_ids(['a', 'dog']) + [tok.sep_id])
    assert valid_len == len(expected) == 8
    assert token_ids.tolist() == expected + [tok.pad_id] * 2
    assert segments.tolist() == [0] * 5 + [1] * 3 + [0] * 2
    assert label == 0
    (token_ids, segments, valid_len), label = ds[1]
    assert valid_len == 9 and label == 2
    assert segments.tolist() == [0] * 4 + [1] * 5 + [0]


def test_labels_from_file(tmp_path):
    path = write(tmp_path, 'pairs.tsv', ['gold_label\tsentence1\tsentence2', 'entailment\ta\tb',
                                          'contradiction\ta\tb', 'neutral\ta\tb'])
    data = snli.read_snli_file(path)
    ds = snli.SNLIBERTDataset(data, max_len=8, tokenizer=make_tokenizer(['a b']), num_workers=0)
    assert ds.labels.tolist() == [0, 1, 2]


def test_pads_with_pad_id_not_zero():
    counter = collections.Counter({'zero': 10, 'one': 9})
    vocab = nlp.Vocab(counter, unknown_token=None, padding_token=None, bos_token=None, eos_token=None,
                      reserved_tokens=['<unk>', '<mask>', '<cls>', '<sep>', '<pad>'])
    tok = WordTokenizer(vocab)
    assert tok.pad_id != 0
    ds = snli.SNLIBERTDataset((['zero'], ['one'], [1]), max_len=8, tokenizer=tok, num_workers=0)
    (token_ids, _, valid_len), _ = ds[0]
    assert valid_len == 5
    assert token_ids[5:].tolist() == [tok.pad_id] * 3


def test_other_tokenizer_uses_its_tokenize():
    class CommaTokenizer(WordTokenizer):
        def tokenize(self, text):
            return text.split(',')

    tok = CommaTokenizer(build_vocab([['a b', 'c']], min_freq=1))
    ds = snli.SNLIBERTDataset((['a b,c'], ['c'], [0]), max_len=8, tokenizer=tok, num_workers=0)
    assert ds.valid_lens[0] == 6
    assert ds.all_token_ids[0, 1:3].tolist() == tok.to_ids(['a b', 'c'])


def test_vocab_argument_wraps_word_tokenizer():
    vocab = build_vocab(tokenize(['a b c']), min_freq=1)
    ds = snli.SNLIBERTDataset((['a b'], ['c'], [0]), max_len=8, vocab=vocab, num_workers=0)
    assert ds.all_token_ids[0, 0] == vocab.token_to_idx['<cls>']
    assert ds.all_token_ids[0, 3] == vocab.token_to_idx['<sep>']


def test_long_premise_not_truncated_per_sentence():
    premise = ' '.join('w%d' % (i % 7) for i in range(60))
    tok = make_tokenizer([premise, 'short one'])
    ds = snli.SNLIBERTDataset(([premise], ['short one'], [0]), max_len=128, tokenizer=tok,
                              num_workers=0)
    assert ds.valid_lens[0] == 60 + 2 + 3
    assert (ds.all_segments[0] == 0).sum() == 128 - 3     # <cls> 60 <sep> and the padding


def test_pair_truncated_longest_first_to_max_len():
    premise = ' '.join('w%d' % (i % 7) for i in range(60))
    tok = make_tokenizer([premise, 'short one'])
    ds = snli.SNLIBERTDataset(([premise], ['short one'], [0]), max_len=16, tokenizer=tok,
                              num_workers=0)
    (token_ids, segments, valid_len), _ = ds[0]
    assert valid_len == 16
    # 13 tokens for the pair: the premise is cut to 11, the short hypothesis kept.
    assert token_ids.tolist() == ([tok.cls_id] + tok.encode(premise)[:11] + [tok.sep_id]
                                  + tok.encode('short one') + [tok.sep_id])
    assert segments.tolist() == [0] * 13 + [1] * 3
    # Two long sentences share the budget.
    ds = snli.SNLIBERTDataset(([premise], [premise], [0]), max_len=16, tokenizer=tok, num_workers=0)
    assert ds.valid_lens[0] == 16
    assert ds.all_segments[0].tolist() == [0] * 9 + [1] * 7


def test_pool_equals_in_process():
    rng = np.random.RandomState(0)
    words = ['w%d' % i for i in range(40)]
    premises = [' '.join(rng.choice(words, rng.randint(1, 30))) for _ in range(300)]
    hypotheses = [' '.join(rng.choice(words, rng.randint(1, 12))) for _ in range(300)]
    labels = rng.randint(0, 3, 300).tolist()
    tok = make_tokenizer(premises[:100], min_freq=3)     # leaves some words unknown
    serial = snli.SNLIBERTDataset((premises, hypotheses, labels), max_len=24, tokenizer=tok,
                                  num_workers=0)
    pooled = snli.SNLIBERTDataset((premises, hypotheses, labels), max_len=24, tokenizer=tok,
                                  num_workers=2, min_pairs_per_worker=1)
    for name in ('all_token_ids', 'all_segments', 'valid_lens', 'labels'):
        assert np.array_equal(getattr(serial, name), getattr(pooled, name)), name


def test_pool_size():
    tok = make_tokenizer(['a'])
    ds = snli.SNLIBERTDataset((['a'] * 10, ['a'] * 10, [0] * 10), max_len=8, tokenizer=tok,
                              num_workers=0)
    assert ds._pool_size(4, 10000) == 1          # small inputs stay in-process
    assert ds._pool_size(4, 3) == 3
    assert ds._pool_size(None, 1) >= 1
