"""Validation of models of the chapter's architecture on the validation pairs of
both pipelines: what separates the validation curves of `chapter_curve.py`
(d2l 0.12.0's own pretraining) and of gluon_bert's pretraining.

Each --model (d2l 0.12.0's `BERTModel` with the parameters of a
`chapter_curve.py --save-params` step, or of a gluon_bert pretraining folder's
`model.params`: the names are the same) is evaluated with `chapter_curve.evaluate`
(d2l's `_get_batch_loss_bert`, dropout off) on the pairs of `wiki.valid.tokens`
(the training vocabulary, d2l's) built

* by gluon_bert (`validation_set`, as its pretraining draws them for --seed), and
* by d2l 0.12.0's own functions (`_get_nsp_data_from_paragraph`,
  `_get_mlm_data_from_tokens`, `_pad_bert_inputs`, after `random.seed(seed)`),

each as is and, with --swap, with the one difference of the two recipes undone:
d2l 0.12.0 puts `random.randint(0, len(vocab) - 1)`, an integer, among the
string tokens for its "10 %: a random word", and `vocab[...]` maps it to
`<unk>`; gluon_bert draws a random word.  `randword->unk` gives gluon_bert's
pairs d2l's `<unk>` there; `unk->randword` gives d2l's pairs random words
(uniform over the words, as gluon_bert) wherever a target that is not `<unk>`
has the input `<unk>`.  --masks: the attention masks of the heads, d2l 0.12.0's
(`tile`: the valid lengths of other examples of the batch) and each example's
own (`repeat`).  One JSON line per (model, pairs, masks) to stdout and --output.

    PYTHONPATH=DIR python -m benchmarks.chapter_eval --data-dir ../shared/data/wikitext-2 \\
        --model d2l=RUN/step-1000.params gluon_bert=FOLDER/model.params:128 --swap
"""
import argparse
import contextlib
import json
import os
import random
import tempfile
import types

import numpy as onp

from benchmarks.chapter import import_d2l
from benchmarks.chapter_curve import MODEL, _d2l_arrays, evaluate
from gluon_bert.fileio import dumps_json

RESERVED = ['<pad>', '<mask>', '<cls>', '<sep>']
MASKS = ('tile', 'repeat')


@contextlib.contextmanager
def head_masks(d2l, kind):
    """d2l 0.12.0's multi-head attention with its own masks (`tile`) or with
    each example's valid length repeated over its heads (`repeat`)."""
    if kind not in MASKS:
        raise ValueError('masks must be tile or repeat, not %r' % kind)
    real = d2l.np
    if kind == 'repeat':
        class RepeatNP(types.ModuleType):
            def __getattr__(self, name):
                return getattr(real, name)

            @staticmethod
            def tile(a, reps):          # MultiHeadAttention's only np.tile: 1-D valid lengths
                return real.repeat(a, reps)
        d2l.np = RepeatNP('np')
    try:
        yield
    finally:
        d2l.np = real


def d2l_vocab(d2l, data_dir):
    """The vocabulary d2l 0.12.0's `_WikiTextDataset` builds on wiki.train.tokens."""
    paragraphs = [d2l.tokenize(p, token='word') for p in d2l._read_wiki(data_dir)]
    return d2l.Vocab([s for p in paragraphs for s in p], min_freq=5, reserved_tokens=RESERVED)


def d2l_valid_pairs(d2l, np, data_dir, vocab, seed, num_pairs, max_len=128):
    """The first `num_pairs` pairs of wiki.valid.tokens as d2l 0.12.0 builds
    pretraining pairs (its `_read_wiki` shuffle after `random.seed(seed)`), in
    the training `vocab`."""
    with tempfile.TemporaryDirectory() as tmp:     # _read_wiki reads wiki.train.tokens
        os.symlink(os.path.join(os.path.abspath(data_dir), 'wiki.valid.tokens'),
                   os.path.join(tmp, 'wiki.train.tokens'))
        random.seed(seed)
        paragraphs = [d2l.tokenize(p, token='word') for p in d2l._read_wiki(tmp)]
    examples = []
    for paragraph in paragraphs:
        examples.extend(d2l._get_nsp_data_from_paragraph(paragraph, paragraphs, vocab, max_len))
    examples = [d2l._get_mlm_data_from_tokens(tokens, vocab) + (segments, is_next)
                for tokens, segments, is_next in examples[:num_pairs]]
    names = ('all_token_ids', 'all_segments', 'valid_lens', 'all_pred_positions',
             'all_mlm_weights', 'all_mlm_labels', 'nsp_labels')
    return _d2l_arrays(np, types.SimpleNamespace(
        **dict(zip(names, d2l._pad_bert_inputs(examples, max_len, vocab)))))


def swap_replacements(tokens, positions, weights, labels, unk, mask, num_words, to_unk, seed=0):
    """A copy of the token ids `tokens` (B, L) whose MLM targets (`positions`,
    `weights` > 0, `labels`, all (B, P)) have their random-word inputs made
    `unk` (`to_unk`: inputs that are neither `mask` nor the label), or their
    `unk` inputs of non-`unk` labels made random words (ids 5 ... num_words - 1,
    the words after `<unk>` and the reserved tokens).  Returns (tokens, number
    swapped, number of targets)."""
    tokens = onp.array(tokens, copy=True)
    rows = onp.broadcast_to(onp.arange(len(tokens))[:, None], positions.shape)
    inputs, used = tokens[rows, positions], weights > 0
    if to_unk:
        chosen = used & (inputs != mask) & (inputs != labels)
        new = onp.full(int(chosen.sum()), unk)
    else:
        chosen = used & (inputs == unk) & (labels != unk)
        new = onp.random.default_rng(seed).integers(1 + len(RESERVED), num_words,
                                                    size=int(chosen.sum()))
    tokens[rows[chosen], positions[chosen]] = new
    return tokens, int(chosen.sum()), int(used.sum())


def _swapped(np, arrays, vocab, to_unk):
    tokens, _, _, positions, weights, labels, _ = [a.asnumpy() for a in arrays]
    new, swapped, targets = swap_replacements(tokens, positions, weights, labels,
                                              vocab['<unk>'], vocab['<mask>'], len(vocab),
                                              to_unk)
    return (np.array(new, dtype='int32'),) + tuple(arrays[1:]), swapped / max(targets, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-dir', required=True, help='unpacked wikitext-2 folder')
    p.add_argument('--model', nargs='+', required=True, metavar='LABEL=PARAMS[:POSITIONS]',
                   help='parameters of a BERTModel of the chapter (POSITIONS: the rows of '
                        'its position table, default d2l\'s 1000; a gluon_bert folder: 128)')
    p.add_argument('--seed', type=int, default=0, help='of both sets of pairs')
    p.add_argument('--pairs', type=int, default=0, help='pairs of each set (0: all)')
    p.add_argument('--masks', default='tile,repeat', help='tile, repeat or both')
    p.add_argument('--swap', action='store_true', help='also the sets with the 10 %% '
                   'replacement of the other recipe')
    p.add_argument('--output', default=None, help='append the JSON lines here')
    a = p.parse_args(argv)
    masks = a.masks.split(',')
    if not set(masks) <= set(MASKS):
        p.error('--masks: tile, repeat or tile,repeat, not %r' % a.masks)
    models = []
    for spec in a.model:
        label, sep, path = spec.partition('=')
        path, _, positions = path.partition(':')
        if not sep or not os.path.isfile(path):
            p.error('--model %s: expected LABEL=PARAMS[:POSITIONS] naming a parameter file' % spec)
        models.append((label, path, int(positions or 1000)))

    d2l = import_d2l()
    import mxnet as mx
    from mxnet import gluon, np, npx
    from gluon_bert.train.jobs import load_pretraining_paragraphs, validation_set
    from gluon_bert.train.options import PretrainArgs
    npx.set_np()
    vocab = d2l_vocab(d2l, a.data_dir)
    args = PretrainArgs(data_dir=a.data_dir, max_len=128, seed=a.seed, eval_interval=1,
                        eval_pairs=a.pairs or 10 ** 9)
    sets = {'gluon_bert': (_d2l_arrays(np, validation_set(
                args, load_pretraining_paragraphs(args)[1], vocab)), None),
            'd2l': (d2l_valid_pairs(d2l, np, a.data_dir, vocab, a.seed, a.pairs or None), None)}
    if a.swap:
        sets['gluon_bert, randword->unk'] = _swapped(np, sets['gluon_bert'][0], vocab, True)
        sets['d2l, unk->randword'] = _swapped(np, sets['d2l'][0], vocab, False)
    loss = gluon.loss.SoftmaxCELoss()
    out = open(a.output, 'a') if a.output else None
    try:
        for label, path, positions in models:
            net = d2l.BERTModel(len(vocab), max_len=positions, **MODEL)
            net.load_parameters(path, ctx=mx.cpu())
            for name, (arrays, swapped) in sets.items():
                for kind in masks:
                    with head_masks(d2l, kind):
                        metrics = evaluate(d2l, net, loss, len(vocab), arrays)
                    record = dict(model=label, params=path, pairs=name, num_pairs=len(arrays[0]),
                                  masks=kind, swapped_share=swapped, seed=a.seed, **metrics)
                    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                      for k, v in record.items()}), flush=True)
                    if out:
                        out.write(dumps_json(record) + '\n')
                        out.flush()
    finally:
        if out:
            out.close()


if __name__ == '__main__':
    main()
