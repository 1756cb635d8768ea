"""The benchmark's inputs: the SNLI pairs and the WikiText-2 corpus, unpacked
into the work folder, or synthetic stand-ins when they are absent."""
import lzma
import os
import random
import shutil

from benchmarks.workers import SEED
from gluon_bert.compare.process import ROOT

DEFAULT_SNLI = os.path.join('..', 'shared', 'data', 'snli', 'snli_1.0_dev.filtered.tsv.xz')
DEFAULT_WIKI_XZ = os.path.join('..', 'shared', 'data', 'wikitext-2', 'wiki.train.tokens.xz')

# SNLI dev: number of pairs whose premise / hypothesis has n tokens (n = index);
# the synthetic fallback draws its lengths from these.
_PREMISE_LEN_COUNTS = [
    0, 0, 6, 6, 30, 54, 171, 348, 604, 653, 676, 851, 722, 744, 572, 501, 413, 359, 433,
    440, 360, 329, 317, 235, 194, 162, 110, 100, 77, 62, 50, 41, 15, 38, 26, 33, 20, 6, 6,
    9, 10, 9, 0, 3, 3, 8, 0, 3, 0, 15, 0, 3, 0, 6, 0, 3, 3, 0, 0, 3]
_HYPOTHESIS_LEN_COUNTS = [
    0, 0, 9, 139, 483, 1003, 1275, 1623, 1457, 1038, 844, 587, 412, 307, 203, 132, 106, 61,
    36, 33, 28, 25, 15, 6, 5, 1, 2, 3, 1, 0, 1, 1, 1, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def prepare_inputs(snli, wikitext, work):
    """Paths of the SNLI TSV and the WikiText-2 folder in `work` (unpacked, or
    synthetic when absent), and notes on where they come from.  `snli`: a file
    (TSV, or .xz) relative to the repository root; `wikitext`: a folder holding
    wiki.train.tokens (None: unpack DEFAULT_WIKI_XZ)."""
    notes = {}
    snli_path = snli if os.path.isabs(snli) else os.path.join(ROOT, snli)
    snli_tsv = os.path.join(work, 'snli.tsv')
    if os.path.exists(snli_path):
        opener = lzma.open if snli_path.endswith('.xz') else open
        with opener(snli_path, 'rb') as src, open(snli_tsv, 'wb') as dst:
            shutil.copyfileobj(src, dst)
        notes['snli'] = os.path.relpath(snli_path, ROOT)
    else:
        _write_synthetic_snli(snli_tsv, 9842)
        notes['snli'] = ('SYNTHETIC pairs (%s not found) with the SNLI dev length '
                         'distribution' % snli)
    if wikitext:
        wiki_dir = os.path.abspath(wikitext)
        notes['wikitext'] = wiki_dir
    else:
        xz = os.path.join(ROOT, DEFAULT_WIKI_XZ)
        wiki_dir = os.path.join(work, 'wikitext-2')
        os.makedirs(wiki_dir, exist_ok=True)
        if os.path.exists(xz):
            with lzma.open(xz, 'rb') as src, \
                    open(os.path.join(wiki_dir, 'wiki.train.tokens'), 'wb') as dst:
                shutil.copyfileobj(src, dst)
            notes['wikitext'] = os.path.relpath(xz, ROOT)
        else:
            from gluon_bert.data.synthetic import write_wikitext
            write_wikitext(wiki_dir, num_paragraphs=8000, seed=SEED)
            notes['wikitext'] = ('SYNTHETIC corpus (gluon_bert.data.synthetic.write_wikitext; %s '
                                 'not found)' % DEFAULT_WIKI_XZ)
    return snli_tsv, wiki_dir, notes


def _write_synthetic_snli(path, n):
    rng = random.Random(SEED)
    words = ['w%d' % i for i in range(3000)]
    weights = [1.0 / (i + 1) for i in range(len(words))]

    def sentence(counts):
        length = rng.choices(range(len(counts)), weights=counts)[0]
        return ' '.join(rng.choices(words, weights=weights, k=length))

    labels = ['entailment', 'contradiction', 'neutral']
    with open(path, 'w') as f:
        f.write('gold_label\tsentence1\tsentence2\n')
        for i in range(n):
            f.write('%s\t%s\t%s\n' % (labels[i % 3], sentence(_PREMISE_LEN_COUNTS),
                                      sentence(_HYPOTHESIS_LEN_COUNTS)))
