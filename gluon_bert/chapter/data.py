"""The chapter's data functions (`d2l.load_data_wiki`, `d2l.read_snli`, ...) on
gluon_bert's readers, and its device helpers."""
import sys

import numpy as np
import mxnet as mx

from gluon_bert.data import download, snli
from gluon_bert.data.batching import iterate_batches, split_and_load
from gluon_bert.data.wikitext import pretraining_dataset
from gluon_bert.system import usable_cpus

__all__ = ['try_gpu', 'try_all_gpus', 'get_dataloader_workers', 'download_extract',
           'PretrainingBatches', 'load_data_wiki', 'read_snli', 'tokenize',
           'get_tokens_and_segments', 'split_batch', 'split_batch_multi_inputs']

# The chapter's names of its data sets -> gluon_bert's (`download.DATASETS`).
DATASETS = {'SNLI': 'snli', 'wikitext-2': 'wikitext-2'}


def try_gpu(i=0):
    """GPU `i` if there is one, else the CPU."""
    return mx.gpu(i) if mx.context.num_gpus() >= i + 1 else mx.cpu()


def try_all_gpus():
    """Every GPU, or `[cpu(0)]` if there is none."""
    return [mx.gpu(i) for i in range(mx.context.num_gpus())] or [mx.cpu()]


def get_dataloader_workers(num_workers=4):
    """Worker processes for a `gluon.data.DataLoader`: `num_workers`, at most
    one per usable CPU; 0 (none) on Windows."""
    if sys.platform.startswith('win'):
        return 0
    return min(num_workers, usable_cpus())


def download_extract(name, folder=None):
    """The folder of the chapter's data set `name` ('SNLI' or 'wikitext-2') in
    gluon_bert's datasets folder (`$GLUON_BERT_HOME/datasets`, default
    `~/.gluon_bert/datasets`), downloaded (sha1 checked) and extracted there
    the first time.  `folder` (the sub-folder of the chapter's call) changes
    nothing: the folder returned holds the data set's files."""
    if name not in DATASETS:
        raise ValueError('unknown data set %r; the chapter uses %s'
                         % (name, ', '.join(map(repr, DATASETS))))
    return download.get_dataset_dir(DATASETS[name])


class PretrainingBatches:
    """The `train_iter` of `load_data_wiki`: batches of `batch_size` examples of
    `dataset` (a `gluon_bert.data.wikitext.WikiTextDataset`), reshuffled at
    every pass (NumPy's global random generator).  A batch is the chapter's seven arrays (token ids, segments,
    valid lengths, prediction positions, MLM weights, MLM labels, NSP labels),
    `mx.np` arrays under `npx.set_np()`, else `mx.nd`.  `train_bert` trains on
    `dataset` itself, in gluon_bert's pretraining loop."""

    def __init__(self, dataset, batch_size, shuffle=True):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle

    def __iter__(self):
        array = mx.np.array if mx.util.is_np_array() else mx.nd.array
        for idx in iterate_batches(len(self.dataset), self.batch_size, self.shuffle,
                                   np.random):
            yield tuple(array(a, dtype=a.dtype) for a in self.dataset[idx])

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)


def load_data_wiki(batch_size, max_len):
    """`(train_iter, vocab)`: the WikiText-2 pretraining pairs of at most
    `max_len` tokens (`gluon_bert.data.wikitext`, seeded) in batches of
    `batch_size` (`PretrainingBatches`), and their vocabulary (min_freq 5,
    `<unk> <pad> <mask> <cls> <sep>` first).  The data are read from gluon_bert's
    datasets folder (see `download_extract`)."""
    train_set = pretraining_dataset(max_len=max_len)
    return PretrainingBatches(train_set, batch_size), train_set.vocab


def read_snli(data_dir, is_train):
    """`(premises, hypotheses, labels)` of `snli_1.0_train.txt` (`is_train`) or
    `snli_1.0_test.txt` in `data_dir`, as the chapter reads them: the binary
    parses without their parentheses, the pairs without a gold label left out,
    labels 0 entailment, 1 contradiction, 2 neutral."""
    return snli.read_snli(data_dir, 'train' if is_train else 'test')


def tokenize(lines, token='word'):
    """Split each line into its words (at each space, case kept) or characters."""
    if token == 'word':
        return [line.split(' ') for line in lines]
    if token == 'char':
        return [list(line) for line in lines]
    raise ValueError("token must be 'word' or 'char', not %r" % (token,))


def get_tokens_and_segments(tokens_a, tokens_b=None):
    """`<cls> a <sep>` (and `b <sep>`) with its segment ids (0 for a, 1 for b)."""
    tokens = ['<cls>'] + tokens_a + ['<sep>']
    segments = [0] * (len(tokens_a) + 2)
    if tokens_b is not None:
        tokens += tokens_b + ['<sep>']
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


def split_batch(X, y, ctx_list):
    """`X` and `y` split evenly over the devices `ctx_list`."""
    if X.shape[0] != y.shape[0]:
        raise ValueError('X has %d examples, y %d' % (X.shape[0], y.shape[0]))
    return (mx.gluon.utils.split_and_load(X, ctx_list),
            mx.gluon.utils.split_and_load(y, ctx_list))


def split_batch_multi_inputs(X, y, ctx_list):
    """The inputs `X` (a tuple of arrays) and labels `y` of a batch split over
    the devices `ctx_list` (`gluon_bert.data.batching.split_and_load`: no device
    gets an empty shard): a list of input tuples and a list of label arrays,
    one per device used."""
    shards = split_and_load(list(X) + [y], ctx_list)
    return [s[:-1] for s in shards], [s[-1] for s in shards]
