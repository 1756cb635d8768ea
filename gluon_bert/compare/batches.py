"""The encoded NLI pairs and their padded batches, as the comparison and the
benchmark hand them to either framework.

Numpy only (with `gluon_bert.data.batching`, which imports MXNet only where
it is used): a PyTorch worker imports this module without MXNet.  The data
order: epoch e trains on the e-th `RandomState(seed).permutation(n)` cut into
consecutive batches (`epoch_orders`, `batches_of`); that is the order
`gluon_bert`'s `finetune` draws with the same seed (without length buckets).
"""
import numpy as np

from gluon_bert.data.batching import PAD_MULTIPLE, padded_length

__all__ = ['PAD_MULTIPLE', 'NLIArrays', 'padded_length', 'batch_length', 'epoch_orders',
           'batches_of', 'batch_arrays', 'padded_shapes']


class NLIArrays:
    """Encoded NLI pairs with the attributes `finetune` reads from an
    SNLIBERTDataset: `all_token_ids`, `all_segments` (N, max_len), `valid_lens`,
    `labels` (N,)."""

    FIELDS = ('all_token_ids', 'all_segments', 'valid_lens', 'labels')

    def __init__(self, all_token_ids, all_segments, valid_lens, labels):
        self.all_token_ids = np.asarray(all_token_ids)
        self.all_segments = np.asarray(all_segments)
        self.valid_lens = np.asarray(valid_lens)
        self.labels = np.asarray(labels)

    @classmethod
    def of(cls, dataset):
        return cls(*(getattr(dataset, f) for f in cls.FIELDS))

    def __len__(self):
        return len(self.labels)

    def head(self, n):
        """The first `n` pairs."""
        return type(self)(*(getattr(self, f)[:n] for f in self.FIELDS))

    def arrays(self, prefix=''):
        return {prefix + f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays, prefix=''):
        return cls(*(arrays[prefix + f] for f in cls.FIELDS))


def batch_length(valid_lens, max_len, pad='batch'):
    """Length of a batch whose pairs have `valid_lens`: padded per batch
    (`pad='batch'`, as gluon_bert) or to `max_len` (`'max_len'`, as the chapter)."""
    return max_len if pad == 'max_len' else padded_length(np.max(valid_lens), max_len)


def epoch_orders(num_examples, num_epochs, seed):
    """The example order of every epoch: successive permutations of one
    `numpy.random.RandomState(seed)`, as `finetune` draws them."""
    rng = np.random.RandomState(seed)
    return [rng.permutation(num_examples) for _ in range(num_epochs)]


def batches_of(order, batch_size):
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def batch_arrays(data, idx, pad='batch'):
    """(tokens, segments, valid_lens, labels) of the examples `idx`, padded to the
    batch's longest pair (`pad='batch'`, as `finetuning.nli_batch`) or to max_len."""
    valid = data.valid_lens[idx]
    L = batch_length(valid, data.all_token_ids.shape[1], pad)
    return (data.all_token_ids[idx, :L], data.all_segments[idx, :L],
            valid.astype(np.float32), data.labels[idx])


def padded_shapes(valid_lens, batches, max_len, pad='batch'):
    """[(batch size, padded length)] of the index `batches`."""
    return [(len(idx), batch_length(valid_lens[idx], max_len, pad)) for idx in batches]
