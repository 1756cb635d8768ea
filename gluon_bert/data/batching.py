"""Batches: shuffled or length-bucketed index batches, each padded to its own
longest example, split over the devices with `gluon.utils.split_and_load`.
Imports MXNet only where it is used: a PyTorch worker of the comparison reads
`padded_length` from here."""
import math

import numpy as np

__all__ = ['PAD_MULTIPLE', 'split_and_load', 'padded_length', 'iterate_batches',
           'length_buckets', 'nli_batch', 'packing_shards']


def split_and_load(arrays, ctxs):
    """Split each host array along axis 0 over the devices with
    `gluon.utils.split_and_load`; a batch smaller than the number of devices uses
    only as many devices as it has examples, so no shard is ever empty.
    Returns one tuple of NDArrays per used device."""
    from mxnet import gluon
    n = len(arrays[0])
    use = ctxs[:max(1, min(len(ctxs), n))]
    shards = [gluon.utils.split_and_load(a, use, even_split=False) for a in arrays]
    return list(zip(*shards))


def packing_shards(valid_lens, seq_len, ctxs):
    """For each device `split_and_load` uses for a batch with these host
    `valid_lens`, padded to `seq_len`: the (pack_idx, unpack_idx) NDArrays of its
    examples (`gluon_bert.model.packing.packing_indices`)."""
    from mxnet import gluon, nd
    from gluon_bert.model.packing import packing_indices
    use = ctxs[:max(1, min(len(ctxs), len(valid_lens)))]
    out = []
    for valid, ctx in zip(gluon.utils.split_data(np.asarray(valid_lens), len(use),
                                                 even_split=False), use):
        pack_idx, unpack_idx = packing_indices(valid, seq_len)
        out.append((nd.array(pack_idx, ctx=ctx, dtype='int32'),
                    nd.array(unpack_idx, ctx=ctx, dtype='int32')))
    return out


PAD_MULTIPLE = 8


def padded_length(max_valid, max_len, multiple=PAD_MULTIPLE):
    """Sequence length a batch is padded to: its longest example, rounded up to a
    multiple of `multiple` (few distinct shapes for the hybridized graph), at most
    `max_len`."""
    return int(min(max_len, multiple * math.ceil(max(1, max_valid) / multiple)))


def iterate_batches(num_examples, batch_size, shuffle, rng=None, sampler=None):
    """Index arrays of successive batches (the last one may be smaller)."""
    if sampler is not None:
        for idx in sampler:
            yield np.asarray(idx)
        return
    order = rng.permutation(num_examples) if shuffle else np.arange(num_examples)
    for start in range(0, num_examples, batch_size):
        yield order[start:start + batch_size]


def length_buckets(lengths, batch_size, num_buckets, seed=None, shuffle=True):
    """None (plain shuffled batches, as the chapter) or, when `num_buckets` > 0,
    GluonNLP's FixedBucketSampler over the example lengths: batches of similar
    length, each padded only to its own longest example.

    The sampler shuffles with numpy's global RNG (seeded here with `seed`, if
    given), and shuffles its buckets in place, so each pass depends on the
    previous one.  The training loops therefore build a fresh sampler for every
    pass: its order is then a function of the RNG state alone, which checkpoints
    carry, and a resumed run draws the same batches as an uninterrupted one."""
    if not num_buckets:
        return None
    import gluonnlp as nlp
    if seed is not None:
        np.random.seed(seed)
    return nlp.data.FixedBucketSampler([int(n) for n in lengths], batch_size,
                                       num_buckets=num_buckets, shuffle=shuffle, ratio=0)


def nli_batch(dataset, idx):
    """Host arrays (tokens, segments, valid_lens, labels) of one batch of an
    SNLIBERTDataset, padded to `padded_length` of the batch's longest pair (padding
    is masked, so the outputs equal those of padding to max_len)."""
    valid = dataset.valid_lens[idx]
    L = padded_length(int(valid.max()), dataset.all_token_ids.shape[1])
    return (dataset.all_token_ids[idx, :L], dataset.all_segments[idx, :L],
            valid.astype(np.float32), dataset.labels[idx])
