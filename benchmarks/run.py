#!/usr/bin/env python
"""Speed and memory of gluon_bert against the chapter's code paths.

    python benchmarks/run.py --json FILE [--quick] [--snli PATH] [--wikitext DIR]

Measured on this machine, one job per subprocess (so each peak RSS,
`getrusage(RUSAGE_SELF).ru_maxrss`, is the job's own), the same model in every
job: `bert.small` (2 blocks, 256 hidden, 4 heads, FFN 512, dropout 0.1) over the
WikiText-2 word vocabulary (min_freq 5), as after the chapter's pretraining.

1. Fine-tuning examples/sec on real SNLI pairs (batch `--batch-size`):
   (a) the chapter's MXNet code path: d2l's `BERTModel` (`from d2l import mxnet`),
       the chapter's `BERTClassifier` (an `nn.Block`), inputs padded to 128 by the
       chapter's `SNLIBERTDataset` layout, its `gluon.data.DataLoader` (shuffle,
       `d2l.get_dataloader_workers()` workers), `d2l.train_batch_ch13` with
       `d2l.split_batch_multi_inputs`, Adam lr 1e-4;
   (b) gluon_bert: `finetuning.finetune` as `pipeline.run_finetuning` calls it
       (hybridized, the trainer of `optim.make_trainer`), with per-batch padding
       (`bucket=0`, the default) and with 10 length buckets (`--bucket 10`);
   (c) the PyTorch twin (`gluon_bert.compare.torch_twin`) padded to 128 as the chapter's
       PyTorch code, and (d) the twin on exactly the batches of (b), once with
       each setting.
   Every job sees the same training pairs.  The fixed-shape jobs (a, c) warm up on
   a few batches, gluon_bert and (d) on a first epoch; then one epoch is timed
   (wall clock, and the process's CPU seconds).  PyTorch runs with 1 thread for
   the headline ratios (MXNet 1.9.1's CPU operators run on one thread here) and
   with 2 threads as extra rows.
2. Pretraining pairs/sec on WikiText-2 examples (max_len 64): d2l's
   `_get_batch_loss_bert` + `trainer.step(1)` over batches padded to max_len with
   round(0.15 * max_len) MLM slots (as d2l's `_WikiTextDataset` pads), loaded by
   the chapter's DataLoader, vs gluon_bert's `pretraining.pretrain`.  Both use the
   same examples (built by gluon_bert's `WikiTextDataset`; d2l's own build is
   timed in 3); gluon_bert with and without `--bucket 10`.
3. Seconds to build `SNLIBERTDataset` for 550,152 pairs (the SNLI dev file
   replicated, each string a distinct object) -- the chapter's class (reproduced
   below as "the chapter's code path": `multiprocessing.Pool(4)` mapping a bound
   method over the pairs) vs gluon_bert's -- and to read WikiText-2 and build its
   pretraining examples: d2l's `_read_wiki` + `_WikiTextDataset` vs gluon_bert's
   `read_wiki` + `WikiTextDataset`.
4. Peak resident memory of every job.

Also measured: sgemm rates (MXNet `FullyConnected` / `nd.dot` / `batch_dot`,
numpy, PyTorch at 1 and 2 threads) and operator profiles of one gluon_bert
fine-tuning epoch (`mxnet.profiler`, aggregate stats) and of the twin's
(`torch.profiler`).

`--quick` runs fewer steps and builds the chapter's SNLI dataset for fewer pairs,
extrapolating linearly to 550,152 (the output says so).
"""
import argparse
import datetime
import json
import lzma
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SNLI = os.path.join('..', 'shared', 'data', 'snli', 'snli_1.0_dev.filtered.tsv.xz')
DEFAULT_WIKI_XZ = os.path.join('..', 'shared', 'data', 'wikitext-2', 'wiki.train.tokens.xz')
SNLI_TRAIN_PAIRS = 550152
MAX_LEN = 128              # fine-tuning inputs (the chapter's)
PRETRAIN_MAX_LEN = 64      # pretraining inputs (the chapter's MXNet pretraining)
PRESET = 'bert.small'
SEED = 0
FT_BUCKETS = PT_BUCKETS = 10   # the scripts' --bucket 10 (the fast setting)

# Sizes: batch size, timed steps, warm-up steps, and the chapter's SNLI pairs.
SETTINGS = {
    'full': dict(batch_size=128, ft_steps=16, ft_warmup=2, pt_steps=16, pt_warmup=3,
                 snli_chapter_pairs=SNLI_TRAIN_PAIRS, profile_steps=6, sgemm_seconds=1.0),
    'quick': dict(batch_size=128, ft_steps=4, ft_warmup=1, pt_steps=4, pt_warmup=2,
                  snli_chapter_pairs=55016, profile_steps=3, sgemm_seconds=0.2),
}

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


# ---------------------------------------------------------------------------
# Helpers shared by the parent and the workers (no framework imported here)


def _max_rss_mib(who=resource.RUSAGE_SELF):
    rss = resource.getrusage(who).ru_maxrss
    return rss / (2 ** 20 if sys.platform == 'darwin' else 2 ** 10)


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _use_package(light):
    """Make `gluon_bert` importable.  `light`: without running its `__init__`
    (which imports MXNet), so a PyTorch job holds no MXNet."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    if light and 'gluon_bert' not in sys.modules:
        import types
        package = types.ModuleType('gluon_bert')
        package.__path__ = [os.path.join(ROOT, 'gluon_bert')]
        sys.modules['gluon_bert'] = package


def _snli_triple(path):
    """(premises, hypotheses, labels) of an SNLI file (gluon_bert's reader)."""
    from gluon_bert.data.snli import read_snli_file
    d = read_snli_file(path)
    return list(d.premises), list(d.hypotheses), list(d.labels)


def _replicate(triple, n):
    """The first `n` pairs of the triple repeated; every string a distinct object
    (as when read from a file), so no pickle or cache can share repeated ones."""
    p, h, y = triple
    reps = -(-n // len(y))
    premises = [s.encode().decode() for s in (p * reps)[:n]]
    hypotheses = [s.encode().decode() for s in (h * reps)[:n]]
    labels = (y * reps)[:n]
    return premises, hypotheses, labels


class _Clock:
    """Wall and CPU seconds (this process, all threads) since `start`."""

    def __init__(self):
        self.start()

    def start(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def lap(self):
        return time.perf_counter() - self.wall0, time.process_time() - self.cpu0


def _train_gflop(config, batches, mlm_rows=0):
    """Matrix-product GFLOP of training steps (forward + backward = 3 x forward)
    of the encoder over `batches` [(batch size, padded length)], plus the MaskLM
    head over `mlm_rows` predicted positions.  Dense layers: 2 (4 H^2 + 2 H F)
    FLOPs per token and block; attention: 2 * 2 L H per token and block."""
    H, F, nb, V = config.num_hiddens, config.ffn_num_hiddens, config.num_blks, config.vocab_size
    flops = 0.0
    for b, L in batches:
        flops += b * L * nb * (2 * (4 * H * H + 2 * H * F) + 4 * L * H)
    flops += mlm_rows * 2 * (H * H + H * V)
    return 3 * flops / 1e9


def _padded(valid_lens, batches, pad, max_len):
    """[(batch size, padded length)] of index batches, padded to max_len
    (`pad='max_len'`) or to the batch's longest rounded up to a multiple of 8."""
    out = []
    for idx in batches:
        longest = int(max(valid_lens[idx]))
        L = max_len if pad == 'max_len' else min(max_len, 8 * -(-longest // 8))
        out.append((len(idx), L))
    return out


# ---------------------------------------------------------------------------
# The chapter's code path for the SNLI dataset (MXNet section of "Natural
# Language Inference: Fine-Tuning BERT"), reproduced as the baseline.  It needs
# `from d2l import mxnet as d2l` and `npx.set_np()`, so it is defined inside the
# worker that runs it.


def _chapter_snli_dataset_class():
    import multiprocessing
    from d2l import mxnet as d2l
    from mxnet import gluon, np

    class SNLIBERTDataset(gluon.data.Dataset):
        """BASELINE -- the chapter's code path, unchanged."""

        def __init__(self, dataset, max_len, vocab=None):
            all_premise_hypothesis_tokens = [[
                p_tokens, h_tokens] for p_tokens, h_tokens in zip(
                *[d2l.tokenize([s.lower() for s in sentences])
                  for sentences in dataset[:2]])]

            self.labels = np.array(dataset[2])
            self.vocab = vocab
            self.max_len = max_len
            (self.all_token_ids, self.all_segments,
             self.valid_lens) = self._preprocess(all_premise_hypothesis_tokens)
            print('read ' + str(len(self.all_token_ids)) + ' examples')

        def _preprocess(self, all_premise_hypothesis_tokens):
            pool = multiprocessing.Pool(4)  # Use 4 worker processes
            out = pool.map(self._mp_worker, all_premise_hypothesis_tokens)
            all_token_ids = [
                token_ids for token_ids, segments, valid_len in out]
            all_segments = [segments for token_ids, segments, valid_len in out]
            valid_lens = [valid_len for token_ids, segments, valid_len in out]
            return (np.array(all_token_ids, dtype='int32'),
                    np.array(all_segments, dtype='int32'),
                    np.array(valid_lens))

        def _mp_worker(self, premise_hypothesis_tokens):
            p_tokens, h_tokens = premise_hypothesis_tokens
            self._truncate_pair_of_tokens(p_tokens, h_tokens)
            tokens, segments = d2l.get_tokens_and_segments(p_tokens, h_tokens)
            token_ids = self.vocab[tokens] + [self.vocab['<pad>']] \
                * (self.max_len - len(tokens))
            segments = segments + [0] * (self.max_len - len(segments))
            valid_len = len(tokens)
            return token_ids, segments, valid_len

        def _truncate_pair_of_tokens(self, p_tokens, h_tokens):
            # Reserve slots for '<CLS>', '<SEP>', and '<SEP>' tokens for the BERT
            # input
            while len(p_tokens) + len(h_tokens) > self.max_len - 3:
                if len(p_tokens) > len(h_tokens):
                    p_tokens.pop()
                else:
                    h_tokens.pop()

        def __getitem__(self, idx):
            return (self.all_token_ids[idx], self.all_segments[idx],
                    self.valid_lens[idx]), self.labels[idx]

        def __len__(self):
            return len(self.all_token_ids)

    # Reachable by name (as a module-level class is), so the pool can pickle
    # the bound method `self._mp_worker` -- and with it `self` -- as the
    # chapter's module-level class is pickled.
    SNLIBERTDataset.__qualname__ = 'SNLIBERTDataset'
    globals()['SNLIBERTDataset'] = SNLIBERTDataset
    return SNLIBERTDataset


def _chapter_classifier_class():
    from mxnet.gluon import nn

    class BERTClassifier(nn.Block):
        """BASELINE -- the chapter's MXNet classifier, unchanged."""

        def __init__(self, bert):
            super(BERTClassifier, self).__init__()
            self.encoder = bert.encoder
            self.hidden = bert.hidden
            self.output = nn.Dense(3)

        def forward(self, inputs):
            tokens_X, segments_X, valid_lens_x = inputs
            encoded_X = self.encoder(tokens_X, segments_X, valid_lens_x)
            return self.output(self.hidden(encoded_X[:, 0, :]))

    return BERTClassifier


def _d2l_vocab(idx_to_token):
    """The chapter's `load_pretrained_model` vocabulary: an empty d2l.Vocab given
    the pretrained model's token list."""
    from d2l import mxnet as d2l
    vocab = d2l.Vocab()
    vocab.idx_to_token = list(idx_to_token)
    vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
    return vocab


# ---------------------------------------------------------------------------
# Workers (each runs in its own process: `run.py --worker NAME --job DIR`)


def _versions():
    out = {'python': platform.python_version()}
    for name in ('numpy', 'mxnet', 'torch', 'gluonnlp', 'd2l'):
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, '__version__'):
            out[name] = mod.__version__
    return out


def w_prep(job, spec):
    """The shared data: WikiText-2 vocabulary and pretraining examples (gluon_bert's
    WikiTextDataset, max_len 64), and the fine-tuning pairs encoded to 128."""
    import numpy as np
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.text.vocab import WordTokenizer
    from gluon_bert.data.wikitext import read_wiki, WikiTextDataset
    wiki = WikiTextDataset(read_wiki(spec['wikitext_dir'], seed=SEED),
                           max_len=PRETRAIN_MAX_LEN, seed=SEED)
    idx_to_token = list(wiki.vocab.idx_to_token)
    _write_json(os.path.join(job, 'vocab.json'), idx_to_token)
    with open(os.path.join(job, 'vocab.gluonnlp.json'), 'w') as f:
        f.write(wiki.vocab.to_json())
    np.savez(os.path.join(job, 'pretrain.npz'), all_token_ids=wiki.all_token_ids,
             all_segments=wiki.all_segments, valid_lens=wiki.valid_lens,
             all_pred_positions=wiki.all_pred_positions, all_mlm_weights=wiki.all_mlm_weights,
             all_mlm_labels=wiki.all_mlm_labels, nsp_labels=wiki.nsp_labels)
    # Fine-tuning pairs: a seeded sample of the SNLI pairs (replicated if needed).
    triple = _snli_triple(spec['snli_tsv'])
    n = spec['ft_pairs']
    order = np.random.RandomState(SEED).permutation(max(n, len(triple[2])))
    pool = _replicate(triple, len(order))
    pick = order[:n]
    pairs = ([pool[0][i] for i in pick], [pool[1][i] for i in pick], [pool[2][i] for i in pick])
    ds = SNLIBERTDataset(pairs, MAX_LEN, tokenizer=WordTokenizer(wiki.vocab), num_workers=1)
    np.savez(os.path.join(job, 'finetune.npz'), all_token_ids=ds.all_token_ids,
             all_segments=ds.all_segments, valid_lens=ds.valid_lens, labels=ds.labels)
    # The batches finetune(bucket=FT_BUCKETS) trains on, for the PyTorch twin.
    from gluon_bert.data.batching import length_buckets
    np.random.seed(SEED)
    np.savez(os.path.join(job, 'bucket_batches.npz'), **{
        'e%d_%04d' % (e, b): np.asarray(idx) for e in range(2) for b, idx in
        enumerate(length_buckets(ds.valid_lens, spec['batch_size'], FT_BUCKETS))})
    unk = wiki.vocab.token_to_idx['<unk>']
    valid = ds.valid_lens
    tokens = ds.all_token_ids[np.arange(MAX_LEN) < valid[:, None]]
    return dict(vocab_size=len(idx_to_token), pretrain_examples=len(wiki),
                pretrain_mean_valid_len=float(wiki.valid_lens.mean()),
                pretrain_mean_mlm_preds=float(wiki.all_mlm_weights.sum(axis=1).mean()),
                finetune_pairs=int(n), finetune_mean_valid_len=float(valid.mean()),
                finetune_max_valid_len=int(valid.max()),
                finetune_unk_fraction=float((tokens == unk).mean()),
                snli_source_pairs=len(triple[2]))


def _load_finetune_arrays(job):
    import numpy as np
    _use_package(light=True)
    from gluon_bert.compare.batches import NLIArrays
    with np.load(os.path.join(job, 'finetune.npz')) as d:
        return NLIArrays(d['all_token_ids'], d['all_segments'], d['valid_lens'], d['labels'])


def _config(job, kind='bert'):
    _use_package(light=True)
    from gluon_bert.model.config import get_config
    vocab_size = len(_read_json(os.path.join(job, 'vocab.json')))
    return get_config(PRESET, vocab_size)


def w_ft_d2l(job, spec):
    """(a) The chapter's MXNet fine-tuning code path."""
    import numpy as onp
    from d2l import mxnet as d2l
    import mxnet as mx
    from mxnet import gluon, init, np, npx
    npx.set_np()
    mx.random.seed(SEED)
    onp.random.seed(SEED)
    c = _config(job)
    data = _load_finetune_arrays(job)
    B, W = spec['batch_size'], spec['ft_warmup']
    # d2l 1.0.3's try_all_gpus() returns [] without a GPU (its docstring: [cpu()]).
    devices = d2l.try_all_gpus() or [d2l.cpu()]
    # load_pretrained_model('bert.small', ...): the same d2l.BERTModel, Xavier
    # weights instead of the downloaded ones (the speed does not depend on them).
    bert = d2l.BERTModel(c.vocab_size, c.num_hiddens, c.ffn_num_hiddens, c.num_heads,
                         c.num_blks, c.dropout, c.max_len)
    bert.initialize(init.Xavier(), ctx=devices)
    net = _chapter_classifier_class()(bert)
    net.output.initialize(ctx=devices)

    class ChapterArrays(gluon.data.Dataset):
        """The arrays the chapter's SNLIBERTDataset holds (mxnet.np, padded to
        max_len; valid lengths and labels float32 as its `np.array` makes them),
        with its `__getitem__`; its slow build is timed separately."""

        def __init__(self, d):
            self.all_token_ids = np.array(d.all_token_ids, dtype='int32')
            self.all_segments = np.array(d.all_segments, dtype='int32')
            self.valid_lens = np.array(d.valid_lens.astype('float32'))
            self.labels = np.array(d.labels.astype('float32'))

        def __getitem__(self, idx):
            return (self.all_token_ids[idx], self.all_segments[idx],
                    self.valid_lens[idx]), self.labels[idx]

        def __len__(self):
            return len(self.all_token_ids)

    train_set = ChapterArrays(data)
    num_workers = d2l.get_dataloader_workers()
    train_iter = gluon.data.DataLoader(train_set, B, shuffle=True, num_workers=num_workers)
    lr = 1e-4
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    load = _loadavg()
    for i, (features, labels) in enumerate(train_iter):   # warm-up
        if i == W:
            break
        d2l.train_batch_ch13(net, features, labels, loss, trainer, devices,
                             d2l.split_batch_multi_inputs)
    clock = _Clock()
    seen = steps = 0
    loss_sum = 0.0
    for features, labels in train_iter:                   # one timed epoch
        l, acc = d2l.train_batch_ch13(net, features, labels, loss, trainer, devices,
                                      d2l.split_batch_multi_inputs)
        loss_sum += l
        seen += labels.shape[0]
        steps += 1
    wall, cpu = clock.lap()
    gflop = _train_gflop(c, [(B, MAX_LEN)] * (seen // B) + (
        [(seen % B, MAX_LEN)] if seen % B else []))
    return dict(examples=seen, steps=steps, seconds=wall, cpu_seconds=cpu,
                examples_per_sec=seen / wall, load_at_start=load,
                matmul_gflop=gflop, matmul_gflops_achieved=gflop / wall,
                padding='to max_len %d' % MAX_LEN, dataloader_workers=num_workers,
                train_loss=loss_sum / seen, warmup_steps=W)


def w_ft_gluon(job, spec, profile=False):
    """(b) gluon_bert's finetune (epoch 1: warm-up; epoch 2: timed)."""
    import numpy as np
    import mxnet as mx
    from mxnet import init
    _use_package(light=False)
    from gluon_bert.train.finetune import finetune
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    from gluon_bert.train.optim import make_trainer, num_training_steps
    mx.random.seed(SEED)
    np.random.seed(SEED)
    data = _load_finetune_arrays(job)
    if profile:
        n = spec['profile_steps'] * spec['batch_size']
        data = type(data)(data.all_token_ids[:n], data.all_segments[:n], data.valid_lens[:n],
                          data.labels[:n])
    ctx = mx.cpu()
    bert = BERTModel(_config(job))
    bert.initialize(init.Xavier(), ctx=ctx)
    net = BERTClassifier(bert)
    net.output.initialize(init.Xavier(), ctx=ctx)
    B, bucket, lr = spec['batch_size'], spec.get('bucket', 0), 1e-4
    trainer = make_trainer(net, lr, num_training_steps(len(data), B, 2))
    marks = []

    def on_epoch_end(record):
        marks.append((time.perf_counter(), time.process_time()))
        if profile and len(marks) == 1:
            mx.nd.waitall()
            mx.profiler.set_config(profile_symbolic=True, profile_imperative=True,
                                   profile_memory=False, profile_api=False,
                                   aggregate_stats=True,
                                   filename=os.path.join(job, 'mxnet-profile.json'))
            mx.profiler.set_state('run')
            marks[-1] = (time.perf_counter(), time.process_time())

    load = _loadavg()
    summary = finetune(net, data, None, [ctx], num_epochs=2, batch_size=B, lr=lr, seed=SEED,
                       progress=False, bucket=bucket, trainer=trainer,
                       on_epoch_end=on_epoch_end)
    r1, r2 = summary['records']
    seconds = r2['train_seconds'] - r1['train_seconds']
    examples = len(data)
    # The second epoch's batches, drawn again as finetune draws them.
    from gluon_bert.data.batching import length_buckets
    from gluon_bert.data.batching import iterate_batches
    rng = np.random.RandomState(SEED)
    if bucket:
        np.random.seed(SEED)
    epochs = [list(iterate_batches(len(data), B, True, rng,
                                   length_buckets(data.valid_lens, B, bucket)))
              for _ in range(2)]
    gflop = _train_gflop(_config(job), _padded(data.valid_lens, epochs[1], 'batch', MAX_LEN))
    out = dict(examples=examples, steps=len(epochs[1]), seconds=seconds,
               matmul_gflop=gflop, matmul_gflops_achieved=gflop / seconds,
               mean_padded_len=float(np.mean([L for _, L in _padded(
                   data.valid_lens, epochs[1], 'batch', MAX_LEN)])),
               cpu_seconds=marks[1][1] - marks[0][1], examples_per_sec=examples / seconds,
               first_epoch_examples_per_sec=r1['examples_per_sec'], load_at_start=load,
               padding=('per batch, x8' if not bucket else
                        'FixedBucketSampler, %d buckets' % bucket),
               bucket=bucket, train_loss=r2['train_loss'], hybridized=True)
    if profile:
        mx.nd.waitall()
        mx.profiler.set_state('stop')
        out['profile'] = _mxnet_profile_summary(mx.profiler.dumps(reset=True, format='json'),
                                                seconds)
    return out


def _mxnet_profile_summary(text, wall_seconds):
    """Operators of an mxnet.profiler aggregate dump, by total time."""
    stats = json.loads(text)
    ops = {}
    for domain, entries in stats.get('Time', {}).items():
        for name, s in entries.items():
            total = float(s.get('Total', 0.0))
            count = int(s.get('Count', 0))
            key = name
            if key in ops:
                ops[key]['ms'] += total
                ops[key]['count'] += count
            else:
                ops[key] = dict(ms=total, count=count, domain=domain)
    total_ms = sum(o['ms'] for o in ops.values())
    top = sorted(ops.items(), key=lambda kv: -kv[1]['ms'])
    return dict(wall_seconds=wall_seconds, operator_ms_total=total_ms,
                operator_share_of_wall=total_ms / 1000.0 / wall_seconds if wall_seconds else None,
                top=[dict(name=k, ms=round(v['ms'], 1), count=v['count'],
                          share=round(v['ms'] / total_ms, 4) if total_ms else None)
                     for k, v in top[:20]],
                groups=_group_ops({k: v['ms'] for k, v in ops.items()}, total_ms))


_OP_GROUPS = [
    ('attention batch_dot/bmm', ('batch_dot', 'bmm')),
    ('dense (FullyConnected/linear/mm/addmm/dot)', ('fullyconnected', 'linear', 'addmm',
                                                    'aten::mm', 'matmul', 'dot')),
    ('softmax', ('softmax',)),
    ('layer norm', ('layernorm', 'layer_norm')),
    ('embedding / take', ('embedding', 'take', 'index_select')),
    ('optimizer (adam)', ('adam',)),
    ('dropout', ('dropout', 'bernoulli')),
    ('transpose / reshape / copy', ('transpose', 'permute', 'reshape', 'copy', 'contiguous',
                                    'clone', 'view')),
]


def _group_ops(ms_by_name, total_ms):
    groups = {g: 0.0 for g, _ in _OP_GROUPS}
    groups['other'] = 0.0
    for name, ms in ms_by_name.items():
        low = name.lower()
        for g, keys in _OP_GROUPS:
            if any(k in low for k in keys):
                groups[g] += ms
                break
        else:
            groups['other'] += ms
    return {g: dict(ms=round(v, 1), share=round(v / total_ms, 4) if total_ms else None)
            for g, v in groups.items()}


def w_ft_torch(job, spec, profile=False):
    """(c, d) The PyTorch twin: `torch_twin.finetune`, padded to max_len or per batch."""
    import numpy as np
    _use_package(light=True)
    import torch
    from gluon_bert.compare import torch_twin, torch_train
    from gluon_bert.compare.batches import epoch_orders, batches_of, batch_arrays
    threads, pad = spec['threads'], spec['pad']
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    data = _load_finetune_arrays(job)
    if profile:
        n = spec['profile_steps'] * spec['batch_size']
        data = type(data)(data.all_token_ids[:n], data.all_segments[:n], data.valid_lens[:n],
                          data.labels[:n])
    model = torch_twin.BERTClassifier(torch_twin.BERTModel(_config(job)))
    B, W = spec['batch_size'], spec['ft_warmup']
    if pad == 'bucket':                  # finetune(bucket=FT_BUCKETS)'s batches
        with np.load(os.path.join(job, 'bucket_batches.npz')) as d:
            epochs = [[d[k] for k in sorted(d.files) if k.startswith('e%d_' % e)]
                      for e in range(2)]
        pad = 'batch'
    else:
        epochs = [batches_of(order, B) for order in epoch_orders(len(data), 2, SEED)]
    full_warmup = pad == 'batch'

    def train_batches(epoch):
        idxs = epochs[epoch]
        if epoch == 0 and not full_warmup:
            idxs = idxs[:W]
        for idx in idxs:
            yield batch_arrays(data, idx, pad)

    marks, prof = [], []

    def on_epoch_end(record):
        marks.append((time.perf_counter(), time.process_time()))
        if profile and len(marks) == 1:
            p = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            p.start()
            prof.append(p)

    load = _loadavg()
    records = torch_train.finetune(model, train_batches, None, 2, 1e-4, threads, SEED,
                                  on_epoch_end)
    seconds = records[1]['train_seconds'] - records[0]['train_seconds']
    examples = len(data)
    timed = _padded(data.valid_lens, epochs[1], pad, MAX_LEN)
    gflop = _train_gflop(_config(job), timed)
    out = dict(examples=examples, steps=len(timed), seconds=seconds,
               matmul_gflop=gflop, matmul_gflops_achieved=gflop / seconds,
               mean_padded_len=float(np.mean([L for _, L in timed])),
               cpu_seconds=marks[1][1] - marks[0][1], examples_per_sec=examples / seconds,
               load_at_start=load, torch_threads=threads,
               torch_get_num_threads=torch.get_num_threads(),
               padding='to max_len %d' % MAX_LEN if pad == 'max_len' else 'per batch, x8'
               + (', %d length buckets' % FT_BUCKETS if spec['pad'] == 'bucket' else ''),
               warmup=('1 epoch' if full_warmup else '%d steps' % W),
               train_loss=records[1]['train_loss'], mxnet_loaded='mxnet' in sys.modules)
    if profile:
        p = prof[0]
        p.stop()
        events = p.key_averages()
        total_us = sum(e.self_cpu_time_total for e in events)
        top = sorted(events, key=lambda e: -e.self_cpu_time_total)
        out['profile'] = dict(
            wall_seconds=seconds, operator_ms_total=total_us / 1000.0,
            top=[dict(name=e.key, ms=round(e.self_cpu_time_total / 1000.0, 1), count=e.count,
                      share=round(e.self_cpu_time_total / total_us, 4))
                 for e in top[:20]],
            groups=_group_ops({e.key: e.self_cpu_time_total / 1000.0 for e in events},
                              total_us / 1000.0))
    return out


def _pretrain_arrays(job):
    import numpy as np

    class Examples:
        """The attributes `pretrain` reads from a WikiTextDataset."""

        def __init__(self, d):
            for k in d.files:
                setattr(self, k, d[k])

        def __len__(self):
            return len(self.all_token_ids)

    with np.load(os.path.join(job, 'pretrain.npz')) as d:
        return Examples(d)


def w_pt_d2l(job, spec):
    """d2l's pretraining step: `_get_batch_loss_bert` + `trainer.step(1)`, the
    chapter's `train_bert` loop over a DataLoader of max_len-padded examples."""
    import numpy as onp
    from d2l import mxnet as d2l
    import mxnet as mx
    from mxnet import autograd, gluon, init, np, npx
    npx.set_np()
    mx.random.seed(SEED)
    onp.random.seed(SEED)
    c = _config(job)
    ex = _pretrain_arrays(job)
    B, W, S = spec['batch_size'], spec['pt_warmup'], spec['pt_steps']
    # d2l's _WikiTextDataset items: (token_ids, segments, valid_len, pred_positions,
    # mlm_weights, mlm_labels, nsp_label), all mxnet.np arrays.
    train_set = gluon.data.ArrayDataset(
        np.array(ex.all_token_ids, dtype='int32'), np.array(ex.all_segments, dtype='int32'),
        np.array(ex.valid_lens, dtype='float32'), np.array(ex.all_pred_positions, dtype='int32'),
        np.array(ex.all_mlm_weights, dtype='float32'), np.array(ex.all_mlm_labels, dtype='int32'),
        np.array(ex.nsp_labels, dtype='int32'))
    num_workers = d2l.get_dataloader_workers()
    train_iter = gluon.data.DataLoader(train_set, B, shuffle=True, num_workers=num_workers)
    # d2l 1.0.3's try_all_gpus() returns [] without a GPU (its docstring: [cpu()]).
    devices = d2l.try_all_gpus() or [d2l.cpu()]
    net = d2l.BERTModel(c.vocab_size, c.num_hiddens, c.ffn_num_hiddens, c.num_heads,
                        c.num_blks, c.dropout, c.max_len)
    net.initialize(init.Xavier(), ctx=devices)
    loss = gluon.loss.SoftmaxCELoss()
    vocab_size = c.vocab_size
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 0.01})
    load = _loadavg()
    step, clock, seen = 0, None, 0
    mlm_sum = nsp_sum = 0.0
    for batch in train_iter:
        if step == W:
            clock = _Clock()
        (tokens_X_shards, segments_X_shards, valid_lens_x_shards,
         pred_positions_X_shards, mlm_weights_X_shards,
         mlm_Y_shards, nsp_y_shards) = [gluon.utils.split_and_load(
            elem, devices, even_split=False) for elem in batch]
        with autograd.record():
            mlm_ls, nsp_ls, ls = d2l._get_batch_loss_bert(
                net, loss, vocab_size, tokens_X_shards, segments_X_shards,
                valid_lens_x_shards, pred_positions_X_shards,
                mlm_weights_X_shards, mlm_Y_shards, nsp_y_shards)
        for l in ls:
            l.backward()
        trainer.step(1)
        mlm_l_mean = sum([float(l) for l in mlm_ls]) / len(mlm_ls)
        nsp_l_mean = sum([float(l) for l in nsp_ls]) / len(nsp_ls)
        step += 1
        if step > W:
            seen += batch[0].shape[0]
            mlm_sum += mlm_l_mean
            nsp_sum += nsp_l_mean
        if step == W + S:
            break
    wall, cpu = clock.lap()
    slots = ex.all_pred_positions.shape[1]
    gflop = _train_gflop(c, [(B, PRETRAIN_MAX_LEN)] * S, mlm_rows=S * B * slots)
    return dict(pairs=seen, steps=S, seconds=wall, cpu_seconds=cpu, pairs_per_sec=seen / wall,
                matmul_gflop=gflop, matmul_gflops_achieved=gflop / wall,
                load_at_start=load, padding='to max_len %d, %d MLM slots'
                % (PRETRAIN_MAX_LEN, ex.all_pred_positions.shape[1]),
                dataloader_workers=num_workers, mlm_loss=mlm_sum / S, nsp_loss=nsp_sum / S,
                warmup_steps=W)


def w_pt_gluon(job, spec, profile=False):
    """gluon_bert's pretrain (the first `pt_warmup` steps untimed).  With
    `profile`: `profile_steps` steps, all under mxnet.profiler."""
    import numpy as np
    import mxnet as mx
    from mxnet import init
    _use_package(light=False)
    from gluon_bert.model.bert import BERTModel
    from gluon_bert.train.pretrain import pretrain
    from gluon_bert.data.batching import iterate_batches, length_buckets, padded_length
    mx.random.seed(SEED)
    np.random.seed(SEED)
    ex = _pretrain_arrays(job)
    B, W, S = spec['batch_size'], spec['pt_warmup'], spec['pt_steps']
    bucket = spec.get('bucket', 0)
    if profile:
        W, S = 1, spec['profile_steps']
        mx.profiler.set_config(profile_symbolic=True, profile_imperative=True,
                               profile_memory=False, profile_api=False, aggregate_stats=True,
                               filename=os.path.join(job, 'mxnet-pretrain-profile.json'))
        mx.profiler.set_state('run')
    c = _config(job)
    net = BERTModel(c)
    net.initialize(init.Xavier(), ctx=mx.cpu())
    load = _loadavg()
    cpu0 = time.process_time()
    summary = pretrain(net, ex, [mx.cpu()], num_steps=W + S, batch_size=B, lr=0.01, seed=SEED,
                       log_interval=W, progress=False, bucket=bucket)
    cpu = time.process_time() - cpu0
    first, last = summary['records'][0], summary['records'][-1]
    assert first['step'] == W and last['step'] == W + S, summary['records']
    seconds = last['time'] - first['time']
    # The timed steps' shapes, drawn again as pretrain draws them.
    if bucket:
        np.random.seed(SEED)
    batches = list(iterate_batches(len(ex), B, True, np.random.RandomState(SEED),
                                   length_buckets(ex.valid_lens, B, bucket)))[W:W + S]
    shapes = [(len(i), padded_length(int(ex.valid_lens[i].max()), PRETRAIN_MAX_LEN))
              for i in batches]
    rows = sum(max(16, -(-int((ex.all_mlm_weights[i] > 0).sum()) // 16) * 16) for i in batches)
    gflop = _train_gflop(c, shapes, mlm_rows=rows)
    out = dict(matmul_gflop=gflop, matmul_gflops_achieved=gflop / seconds,
               mean_padded_len=float(np.mean([L for _, L in shapes])),
               mlm_rows_per_step=rows / len(batches))
    if profile:
        mx.nd.waitall()
        mx.profiler.set_state('stop')
        out['profile'] = _mxnet_profile_summary(mx.profiler.dumps(reset=True, format='json'),
                                                summary['seconds'])
        out['profile']['note'] = 'all %d steps (graph building included)' % (W + S)
    return dict(out, pairs=S * B, steps=S, seconds=seconds, pairs_per_sec=S * B / seconds,
                cpu_seconds_all_steps=cpu, all_steps_seconds=summary['seconds'],
                load_at_start=load, padding='per batch, x8%s; real MLM targets only'
                % (', %d length buckets' % bucket if bucket else ''),
                mlm_loss=last['mlm_loss'], nsp_loss=last['nsp_loss'], warmup_steps=W)


def w_snli_d2l(job, spec):
    """The chapter's SNLIBERTDataset over `snli_pairs` pairs."""
    from mxnet import npx
    npx.set_np()
    _use_package(light=False)
    SNLIBERTDataset = _chapter_snli_dataset_class()
    vocab = _d2l_vocab(_read_json(os.path.join(job, 'vocab.json')))
    pairs = _replicate(_snli_triple(spec['snli_tsv']), spec['snli_pairs'])
    load = _loadavg()
    clock = _Clock()
    ds = SNLIBERTDataset(pairs, MAX_LEN, vocab)
    wall, cpu = clock.lap()
    n = len(ds)
    # The pool is never closed, but it is garbage-collected when `_preprocess`
    # returns, and its finalizer then terminates and reaps the workers (inside
    # the timed build); the largest one's peak RSS is in RUSAGE_CHILDREN.
    workers = _live_children_peak_rss() or _max_rss_mib(resource.RUSAGE_CHILDREN)
    return dict(pairs=n, seconds=wall, cpu_seconds_main=cpu, load_at_start=load,
                pool_processes=4, pool_workers_peak_rss_mib=workers,
                mean_valid_len=float(ds.valid_lens.asnumpy().mean()))


def _live_children_peak_rss():
    """Peak RSS (VmHWM, MiB) of this process's live children (Linux), summed;
    None when none is alive."""
    import multiprocessing
    total = 0.0
    for child in multiprocessing.active_children():
        try:
            with open('/proc/%d/status' % child.pid) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        total += int(line.split()[1]) / 1024.0
        except OSError:
            pass
    return total or None


def w_snli_gluon(job, spec):
    """gluon_bert's SNLIBERTDataset over `snli_pairs` pairs (its default workers)."""
    import numpy as np
    _use_package(light=False)
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.text.vocab import WordTokenizer
    import gluonnlp as nlp
    with open(os.path.join(job, 'vocab.gluonnlp.json')) as f:
        vocab = nlp.Vocab.from_json(f.read())
    pairs = _replicate(_snli_triple(spec['snli_tsv']), spec['snli_pairs'])
    load = _loadavg()
    clock = _Clock()
    ds = SNLIBERTDataset(pairs, MAX_LEN, tokenizer=WordTokenizer(vocab))
    wall, cpu = clock.lap()
    return dict(pairs=len(ds), seconds=wall, cpu_seconds_main=cpu, load_at_start=load,
                pool_processes=ds._pool_size(None, 10000),
                pool_workers_peak_rss_mib=_max_rss_mib(resource.RUSAGE_CHILDREN),
                mean_valid_len=float(np.mean(ds.valid_lens)))


def w_wiki_d2l(job, spec):
    """d2l's `_read_wiki` + `_WikiTextDataset` (max_len 64)."""
    import random
    from d2l import mxnet as d2l
    from mxnet import npx
    npx.set_np()
    random.seed(SEED)
    load = _loadavg()
    clock = _Clock()
    paragraphs = d2l._read_wiki(spec['wikitext_dir'])
    read_s = clock.lap()[0]
    ds = d2l._WikiTextDataset(paragraphs, PRETRAIN_MAX_LEN)
    wall, cpu = clock.lap()
    return dict(examples=len(ds), seconds=wall, read_seconds=read_s, cpu_seconds=cpu,
                vocab_size=len(ds.vocab), load_at_start=load)


def w_wiki_gluon(job, spec):
    """gluon_bert's `read_wiki` + `WikiTextDataset` (max_len 64)."""
    _use_package(light=False)
    from gluon_bert.data.wikitext import read_wiki, WikiTextDataset
    load = _loadavg()
    clock = _Clock()
    paragraphs = read_wiki(spec['wikitext_dir'], seed=SEED)
    read_s = clock.lap()[0]
    ds = WikiTextDataset(paragraphs, max_len=PRETRAIN_MAX_LEN, seed=SEED)
    wall, cpu = clock.lap()
    return dict(examples=len(ds), seconds=wall, read_seconds=read_s, cpu_seconds=cpu,
                vocab_size=len(ds.vocab), load_at_start=load)


# sgemm shapes: (name, M, K, N) for C(M,N) = A(M,K) B(K,N); M = 128 pairs x 32 tokens.
_GEMM_SHAPES = [('4096x256 . 256x256 (W_q/k/v/o)', 4096, 256, 256),
                ('4096x256 . 256x512 (ffn dense1)', 4096, 256, 512),
                ('4096x512 . 512x256 (ffn dense2)', 4096, 512, 256),
                ('1024x1024 . 1024x1024', 1024, 1024, 1024)]
# batched: (name, batch, M, K, N): attention scores and weighted values, 128 x 4 heads.
_BMM_SHAPES = [('512 x (32x64 . 64x32) (scores)', 512, 32, 64, 32),
               ('512 x (32x32 . 32x64) (weights . values)', 512, 32, 32, 64)]


def _rate(fn, flops, seconds, sync=lambda: None):
    fn()
    sync()
    reps, t = 0, 0.0
    t0 = time.perf_counter()
    while t < seconds:
        fn()
        sync()
        reps += 1
        t = time.perf_counter() - t0
    return round(flops * reps / t / 1e9, 1)


def w_sgemm(job, spec):
    """GFLOPS of float32 matrix products in one framework (`spec['lib']`)."""
    import numpy as np
    lib, seconds = spec['lib'], spec['sgemm_seconds']
    threads = spec.get('threads')
    rng = np.random.RandomState(0)
    out = {'lib': lib, 'threads': threads, 'gflops': {}}
    g = out['gflops']
    if lib == 'mxnet':
        import mxnet as mx
        nd = mx.nd
        sync = mx.nd.waitall
        for name, M, K, N in _GEMM_SHAPES:
            a = nd.array(rng.rand(M, K).astype('f'))
            w = nd.array(rng.rand(N, K).astype('f'))
            b = nd.array(rng.rand(K, N).astype('f'))
            g['FullyConnected ' + name] = _rate(
                lambda: nd.FullyConnected(a, w, no_bias=True, num_hidden=N, flatten=False),
                2 * M * K * N, seconds, sync)
            g['nd.dot ' + name] = _rate(lambda: nd.dot(a, b), 2 * M * K * N, seconds, sync)
        for name, Bt, M, K, N in _BMM_SHAPES:
            a = nd.array(rng.rand(Bt, M, K).astype('f'))
            b = nd.array(rng.rand(Bt, K, N).astype('f'))
            g['batch_dot ' + name] = _rate(lambda: nd.batch_dot(a, b), 2 * Bt * M * K * N,
                                           seconds, sync)
        out['omp_threads_env'] = os.environ.get('OMP_NUM_THREADS')
        out['ops_ms'] = _mxnet_op_times(rng, seconds)
    elif lib == 'numpy':
        for name, M, K, N in _GEMM_SHAPES:
            a = rng.rand(M, K).astype('f')
            b = rng.rand(K, N).astype('f')
            g['np.dot ' + name] = _rate(lambda: np.dot(a, b), 2 * M * K * N, seconds)
        for name, Bt, M, K, N in _BMM_SHAPES:
            a = rng.rand(Bt, M, K).astype('f')
            b = rng.rand(Bt, K, N).astype('f')
            g['np.matmul ' + name] = _rate(lambda: np.matmul(a, b), 2 * Bt * M * K * N, seconds)
        try:
            from threadpoolctl import threadpool_info
            out['blas'] = [dict(internal_api=i.get('internal_api'),
                                num_threads=i.get('num_threads'))
                           for i in threadpool_info() if i.get('user_api') == 'blas']
        except ImportError:
            pass
    elif lib == 'torch':
        import torch
        torch.set_num_threads(threads)
        out['torch_get_num_threads'] = torch.get_num_threads()
        for name, M, K, N in _GEMM_SHAPES:
            a = torch.from_numpy(rng.rand(M, K).astype('f'))
            w = torch.from_numpy(rng.rand(N, K).astype('f'))
            g['F.linear ' + name] = _rate(lambda: torch.nn.functional.linear(a, w),
                                          2 * M * K * N, seconds)
        for name, Bt, M, K, N in _BMM_SHAPES:
            a = torch.from_numpy(rng.rand(Bt, M, K).astype('f'))
            b = torch.from_numpy(rng.rand(Bt, K, N).astype('f'))
            g['torch.bmm ' + name] = _rate(lambda: torch.bmm(a, b), 2 * Bt * M * K * N, seconds)
        out['ops_ms'] = _torch_op_times(rng, seconds)
    return out


# Operator micro-benchmarks (milliseconds per call): LayerNorm over the
# activations of a per-batch padded fine-tuning batch (128 x 56 tokens x 256),
# and the MaskLM softmax cross-entropy of a pretraining batch (896 rows x vocab).
_LN_SHAPE = (128, 56, 256)
_CE_SHAPE = (896, 20256)


def _ms(fn, seconds, sync=lambda: None):
    fn()
    sync()
    reps, t = 0, 0.0
    t0 = time.perf_counter()
    while t < seconds or reps < 3:
        fn()
        sync()
        reps += 1
        t = time.perf_counter() - t0
    return round(1000.0 * t / reps, 2)


def _mxnet_op_times(rng, seconds):
    from mxnet import autograd, gluon, nd
    from mxnet.gluon import nn
    H = _LN_SHAPE[-1]
    x = nd.array(rng.randn(*_LN_SHAPE).astype('f'))
    dy = nd.array(rng.randn(*_LN_SHAPE).astype('f'))
    out = {}

    class GemmLayerNorm(nn.HybridBlock):
        """LayerNorm over the last axis, its row reductions and broadcasts written
        as matrix products (the same numbers as nn.LayerNorm)."""

        def __init__(self, units, eps=1e-5, **kwargs):
            super().__init__(**kwargs)
            self._h, self._eps = units, eps
            self.gamma = self.params.get('gamma', shape=(units,), init='ones')
            self.beta = self.params.get('beta', shape=(units,), init='zeros')

        def hybrid_forward(self, F, X, gamma, beta):
            h = self._h
            avg, bc = F.ones((1, h)) / h, F.ones((h, 1))

            def fc(a, w, n):
                return F.FullyConnected(a, w, no_bias=True, num_hidden=n, flatten=False)
            xc = X - fc(fc(X, avg, 1), bc, h)
            rstd = F.rsqrt(fc(F.square(xc), avg, 1) + self._eps)
            one = F.ones_like(rstd)
            return xc * fc(rstd, bc, h) * fc(one, gamma.reshape((h, 1)), h) + \
                fc(one, beta.reshape((h, 1)), h)

    for name, blk in (('nn.LayerNorm', nn.LayerNorm(in_channels=H)),
                      ('LayerNorm as matrix products', GemmLayerNorm(H))):
        blk.initialize()
        blk.hybridize(static_alloc=True, static_shape=True)
        x.attach_grad()

        def fwd_bwd():
            with autograd.record():
                y = blk(x)
            y.backward(dy)
        out['%s fwd %s' % (name, _LN_SHAPE)] = _ms(lambda: blk(x), seconds, nd.waitall)
        out['%s fwd+bwd %s' % (name, _LN_SHAPE)] = _ms(fwd_bwd, seconds, nd.waitall)
    flat = x.reshape((-1, H))
    w = nd.ones((1, H))
    out['nd.sum over the last axis (%d x %d)' % flat.shape] = _ms(
        lambda: nd.sum(flat, axis=-1), seconds, nd.waitall)
    out['the same sum as FullyConnected with ones'] = _ms(
        lambda: nd.FullyConnected(flat, w, no_bias=True, num_hidden=1), seconds, nd.waitall)
    logits = nd.array(rng.randn(*_CE_SHAPE).astype('f'))
    labels = nd.array(rng.randint(0, _CE_SHAPE[1], _CE_SHAPE[0]).astype('f'))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    logits.attach_grad()

    def ce():
        with autograd.record():
            l = loss(logits, labels).sum()
        l.backward()
    out['SoftmaxCrossEntropyLoss fwd+bwd %s' % (_CE_SHAPE,)] = _ms(ce, seconds, nd.waitall)
    return out


def _torch_op_times(rng, seconds):
    import torch
    H = _LN_SHAPE[-1]
    x = torch.from_numpy(rng.randn(*_LN_SHAPE).astype('f')).requires_grad_()
    dy = torch.from_numpy(rng.randn(*_LN_SHAPE).astype('f'))
    ln = torch.nn.LayerNorm(H)
    out = {}
    with torch.no_grad():
        out['nn.LayerNorm fwd %s' % (_LN_SHAPE,)] = _ms(lambda: ln(x), seconds)
    out['nn.LayerNorm fwd+bwd %s' % (_LN_SHAPE,)] = _ms(lambda: ln(x).backward(dy), seconds)
    flat = x.detach().reshape(-1, H)
    out['sum over the last axis (%d x %d)' % tuple(flat.shape)] = _ms(
        lambda: flat.sum(-1), seconds)
    logits = torch.from_numpy(rng.randn(*_CE_SHAPE).astype('f')).requires_grad_()
    labels = torch.from_numpy(rng.randint(0, _CE_SHAPE[1], _CE_SHAPE[0]))
    out['cross_entropy fwd+bwd %s' % (_CE_SHAPE,)] = _ms(
        lambda: torch.nn.functional.cross_entropy(logits, labels, reduction='sum').backward(),
        seconds)
    return out


WORKERS = {
    'prep': w_prep,
    'ft_d2l': w_ft_d2l,
    'ft_gluon': w_ft_gluon,
    'ft_torch': w_ft_torch,
    'prof_gluon': lambda job, spec: w_ft_gluon(job, spec, profile=True),
    'prof_torch': lambda job, spec: w_ft_torch(job, spec, profile=True),
    'pt_d2l': w_pt_d2l,
    'pt_gluon': w_pt_gluon,
    'prof_pt_gluon': lambda job, spec: w_pt_gluon(job, spec, profile=True),
    'snli_d2l': w_snli_d2l,
    'snli_gluon': w_snli_gluon,
    'wiki_d2l': w_wiki_d2l,
    'wiki_gluon': w_wiki_gluon,
    'sgemm': w_sgemm,
}
# Workers that must not load MXNet (gluon_bert entered without its __init__).
LIGHT = ('ft_torch', 'prof_torch', 'sgemm')


def worker_main(name, job, spec_path):
    spec = _read_json(spec_path)
    kind = spec['kind']
    _use_package(light=kind in LIGHT)
    t0 = time.perf_counter()
    result = WORKERS[kind](job, spec)
    result.update(name=name, kind=kind, peak_rss_mib=round(_max_rss_mib(), 1),
                  job_seconds=time.perf_counter() - t0, versions=_versions(),
                  env_threads={k: os.environ.get(k) for k in (
                      'OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS', 'OPENBLAS_NUM_THREADS',
                      'MKL_NUM_THREADS')},
                  mxnet_loaded='mxnet' in sys.modules, torch_loaded='torch' in sys.modules)
    _write_json(os.path.join(job, 'result-%s.json' % name), result)
    sys.stdout.flush()
    # The chapter's Pool(4) is never closed; leave without waiting for it.
    os._exit(0)


# ---------------------------------------------------------------------------
# Parent


def thread_env(threads):
    env = dict(os.environ)
    for var in ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS', 'OPENBLAS_NUM_THREADS',
                'MKL_NUM_THREADS'):
        env[var] = str(threads)
    env['PYTHONUNBUFFERED'] = '1'
    return env


def launch(name, job, spec, threads=1, timeout=1200, env=None):
    spec_path = os.path.join(job, 'spec-%s.json' % name)
    _write_json(spec_path, spec)
    result_path = os.path.join(job, 'result-%s.json' % name)
    if os.path.exists(result_path):
        os.remove(result_path)
    busy0, own0 = _system_busy_seconds(), _children_cpu_seconds()
    t0 = time.perf_counter()
    print('  %-22s ...' % name, end='', file=sys.stderr, flush=True)
    with open(os.path.join(job, 'log-%s.txt' % name), 'w') as out:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--worker', name,
                               '--job', job, '--spec', spec_path],
                              env=dict(thread_env(threads), **(env or {})), stdout=out,
                              stderr=subprocess.STDOUT,
                              timeout=timeout, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    busy1, own1 = _system_busy_seconds(), _children_cpu_seconds()
    if proc.returncode != 0 or not os.path.exists(result_path):
        with open(os.path.join(job, 'log-%s.txt' % name)) as f:
            tail = f.read()[-3000:]
        print(' FAILED (%.0f s)' % elapsed, file=sys.stderr, flush=True)
        raise RuntimeError('job %s failed (exit status %s):\n%s' % (name, proc.returncode, tail))
    result = _read_json(result_path)
    result['process_seconds'] = elapsed
    result['load_after'] = _loadavg()
    if busy0 is not None and busy1 is not None:
        # CPU seconds other processes used while this job ran (all cores).
        other = max(0.0, (busy1 - busy0) - (own1 - own0))
        result['other_processes_cpu_seconds'] = round(other, 1)
        result['other_processes_cpu_share'] = round(other / elapsed, 3)
    print(' %.0f s%s' % (elapsed, '' if busy0 is None else
                         ' (other processes: %.2f cores busy)'
                         % result['other_processes_cpu_share']), file=sys.stderr, flush=True)
    return result


def _system_busy_seconds():
    """CPU seconds all cores have been busy since boot (Linux /proc/stat)."""
    try:
        with open('/proc/stat') as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return (total - idle) / os.sysconf('SC_CLK_TCK')


def _children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _other_busy_processes():
    """Other processes using CPU now (a 1 s sample), to judge the timings."""
    try:
        import psutil
    except ImportError:
        return None
    me = os.getpid()
    procs = []
    for p in psutil.process_iter(['pid', 'cmdline']):
        try:
            p.cpu_percent(None)
            procs.append(p)
        except (psutil.Error, OSError):
            pass
    time.sleep(1.0)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
            if pct >= 10 and p.pid != me:
                busy.append(dict(pid=p.pid, cpu_percent=pct,
                                 cmd=' '.join(p.info['cmdline'] or [])[:120]))
        except (psutil.Error, OSError):
            pass
    return busy


def _prepare_inputs(args, work):
    """Paths of the SNLI TSV and the WikiText-2 folder (unpacked or synthetic)."""
    notes = {}
    snli = args.snli if os.path.isabs(args.snli) else os.path.join(ROOT, args.snli)
    snli_tsv = os.path.join(work, 'snli.tsv')
    if os.path.exists(snli):
        opener = lzma.open if snli.endswith('.xz') else open
        with opener(snli, 'rb') as src, open(snli_tsv, 'wb') as dst:
            shutil.copyfileobj(src, dst)
        notes['snli'] = os.path.relpath(snli, ROOT)
    else:
        _write_synthetic_snli(snli_tsv, 9842)
        notes['snli'] = ('SYNTHETIC pairs (%s not found) with the SNLI dev length '
                         'distribution' % args.snli)
    if args.wikitext:
        wiki_dir = os.path.abspath(args.wikitext)
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
            _use_package(light=True)
            from gluon_bert.data.synthetic import write_wikitext
            write_wikitext(wiki_dir, num_paragraphs=8000, seed=SEED)
            notes['wikitext'] = ('SYNTHETIC corpus (gluon_bert.data.synthetic.write_wikitext; %s '
                                 'not found)' % DEFAULT_WIKI_XZ)
    return snli_tsv, wiki_dir, notes


def _write_synthetic_snli(path, n):
    import random
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


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def run_all(args):
    mode = 'quick' if args.quick else 'full'
    S = dict(SETTINGS[mode])
    if args.batch_size:
        S['batch_size'] = args.batch_size
    t_start = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = _loadavg()
    busy = _other_busy_processes()
    work = args.workdir or tempfile.mkdtemp(prefix='gluon-bert-bench-')
    os.makedirs(work, exist_ok=True)
    print('benchmark (%s) in %s; load average %s' % (mode, work, load_start), file=sys.stderr)
    if busy:
        print('other busy processes: %s' % busy, file=sys.stderr)
    try:
        snli_tsv, wiki_dir, notes = _prepare_inputs(args, work)
        B = S['batch_size']
        base = dict(batch_size=B, snli_tsv=snli_tsv, wikitext_dir=wiki_dir,
                    ft_warmup=S['ft_warmup'], pt_warmup=S['pt_warmup'], pt_steps=S['pt_steps'],
                    profile_steps=S['profile_steps'], sgemm_seconds=S['sgemm_seconds'])
        R = {}

        def job(name, kind, env_threads=1, env=None, **extra):
            if args.only is not None and not any(name.startswith(o) for o in args.only):
                return None
            R[name] = launch(name, work, dict(base, kind=kind, env=env, **extra), env_threads,
                             env=env)
            return R[name]

        R['prep'] = launch('prep', work, dict(base, kind='prep', ft_pairs=S['ft_steps'] * B))
        job('ft_d2l_mxnet', 'ft_d2l')
        job('ft_gluon_bucket0', 'ft_gluon', bucket=0)
        job('ft_gluon_bucket10', 'ft_gluon', bucket=10)
        for threads in (1, 2):
            job('ft_torch_padded_t%d' % threads, 'ft_torch', threads, threads=threads,
                pad='max_len')
            job('ft_torch_dynamic_t%d' % threads, 'ft_torch', threads, threads=threads,
                pad='batch')
            job('ft_torch_bucket10_t%d' % threads, 'ft_torch', threads, threads=threads,
                pad='bucket')
        job('pt_d2l_mxnet', 'pt_d2l')
        job('pt_gluon_bucket0', 'pt_gluon', bucket=0)
        job('pt_gluon_bucket10', 'pt_gluon', bucket=PT_BUCKETS)
        # Both cores: MXNet's operators use OMP_NUM_THREADS threads when it is set
        # (unset, MXNet 1.9.1 takes one thread on this 2-vCPU machine).
        job('ft_d2l_mxnet_t2', 'ft_d2l', 2)
        job('ft_gluon_bucket0_t2', 'ft_gluon', 2, bucket=0)
        job('ft_gluon_bucket10_t2', 'ft_gluon', 2, bucket=10)
        job('pt_d2l_mxnet_t2', 'pt_d2l', 2)
        job('pt_gluon_bucket0_t2', 'pt_gluon', 2, bucket=0)
        job('pt_gluon_bucket10_t2', 'pt_gluon', 2, bucket=PT_BUCKETS)
        job('snli_gluon', 'snli_gluon', snli_pairs=SNLI_TRAIN_PAIRS)
        job('snli_d2l', 'snli_d2l', snli_pairs=S['snli_chapter_pairs'])
        job('wiki_gluon', 'wiki_gluon')
        job('wiki_d2l', 'wiki_d2l')
        # Bulk execution off, so the profiler times each operator on its own
        # rather than fused segments of several.
        job('prof_gluon', 'prof_gluon', bucket=0,
            env={'MXNET_EXEC_BULK_EXEC_TRAIN': '0', 'MXNET_EXEC_BULK_EXEC_INFERENCE': '0'})
        job('prof_torch', 'prof_torch', 1, threads=1, pad='batch')
        job('prof_pt_gluon', 'prof_pt_gluon', bucket=PT_BUCKETS,
            env={'MXNET_EXEC_BULK_EXEC_TRAIN': '0', 'MXNET_EXEC_BULK_EXEC_INFERENCE': '0'})
        job('sgemm_mxnet', 'sgemm', 1, lib='mxnet')
        for threads in (1, 2):
            job('sgemm_numpy_t%d' % threads, 'sgemm', threads, lib='numpy', threads=threads)
            job('sgemm_torch_t%d' % threads, 'sgemm', threads, lib='torch', threads=threads)
    finally:
        if not args.keep_workdir and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    report = summarize(R, S, mode, notes, started, load_start, _loadavg(), busy,
                       time.perf_counter() - t_start)
    return report


def summarize(R, S, mode, notes, started, load_start, load_end, busy, total_seconds):
    def get(name, key):
        r = R.get(name)
        return None if r is None else r.get(key)

    ft = {k: get(k, 'examples_per_sec') for k in (
        'ft_d2l_mxnet', 'ft_gluon_bucket0', 'ft_gluon_bucket10', 'ft_torch_padded_t1',
        'ft_torch_dynamic_t1', 'ft_torch_bucket10_t1', 'ft_torch_padded_t2',
        'ft_torch_dynamic_t2', 'ft_torch_bucket10_t2', 'ft_d2l_mxnet_t2',
        'ft_gluon_bucket0_t2', 'ft_gluon_bucket10_t2')}
    pt = {k: get(k, 'pairs_per_sec') for k in (
        'pt_d2l_mxnet', 'pt_gluon_bucket0', 'pt_gluon_bucket10', 'pt_d2l_mxnet_t2',
        'pt_gluon_bucket0_t2', 'pt_gluon_bucket10_t2')}
    g0_2, g10_2 = ft['ft_gluon_bucket0_t2'], ft['ft_gluon_bucket10_t2']
    g0, g10 = ft['ft_gluon_bucket0'], ft['ft_gluon_bucket10']
    snli_g = get('snli_gluon', 'seconds')
    snli_d = get('snli_d2l', 'seconds')
    snli_d_pairs = get('snli_d2l', 'pairs')
    snli_d_550k = snli_d * SNLI_TRAIN_PAIRS / snli_d_pairs if snli_d else None
    snli_g_550k = (snli_g * SNLI_TRAIN_PAIRS / get('snli_gluon', 'pairs')) if snli_g else None
    prep = R['prep']
    sgemm = {k: v['gflops'] for k, v in R.items() if k.startswith('sgemm')}
    report = dict(
        # gluon_bert with --bucket 10 (its fast setting).  Against the PyTorch twin
        # with per-batch padding: both on the very same batches.
        finetune_speedup_vs_d2l_mxnet=_ratio(g10, ft['ft_d2l_mxnet']),
        finetune_speedup_vs_pytorch_padded=_ratio(g10, ft['ft_torch_padded_t1']),
        finetune_speedup_vs_pytorch_dynamic=_ratio(g10, ft['ft_torch_bucket10_t1']),
        # Every framework on both cores.
        finetune_speedup_vs_d2l_mxnet_2threads=_ratio(g10_2, ft['ft_d2l_mxnet_t2']),
        finetune_speedup_vs_pytorch_padded_2threads=_ratio(g10_2, ft['ft_torch_padded_t2']),
        finetune_speedup_vs_pytorch_dynamic_2threads=_ratio(g10_2, ft['ft_torch_bucket10_t2']),
        finetune_bucket0_speedup_vs_d2l_mxnet_2threads=_ratio(g0_2, ft['ft_d2l_mxnet_t2']),
        finetune_bucket0_speedup_vs_pytorch_padded_2threads=_ratio(
            g0_2, ft['ft_torch_padded_t2']),
        # gluon_bert's default: shuffled batches as the chapter, padded per batch.
        finetune_bucket0_speedup_vs_d2l_mxnet=_ratio(g0, ft['ft_d2l_mxnet']),
        finetune_bucket0_speedup_vs_pytorch_padded=_ratio(g0, ft['ft_torch_padded_t1']),
        finetune_bucket0_speedup_vs_pytorch_dynamic=_ratio(g0, ft['ft_torch_dynamic_t1']),
        finetune_bucket0_speedup_vs_pytorch_dynamic_2threads=_ratio(
            g0_2, ft['ft_torch_dynamic_t2']),
        pretrain_speedup_vs_d2l_mxnet=_ratio(pt['pt_gluon_bucket10'], pt['pt_d2l_mxnet']),
        pretrain_bucket0_speedup_vs_d2l_mxnet=_ratio(pt['pt_gluon_bucket0'],
                                                     pt['pt_d2l_mxnet']),
        pretrain_speedup_vs_d2l_mxnet_2threads=_ratio(pt['pt_gluon_bucket10_t2'],
                                                      pt['pt_d2l_mxnet_t2']),
        pretrain_bucket0_speedup_vs_d2l_mxnet_2threads=_ratio(pt['pt_gluon_bucket0_t2'],
                                                              pt['pt_d2l_mxnet_t2']),
        snli_preprocess_seconds_550k=None if snli_g_550k is None else round(snli_g_550k, 2),
        snli_preprocess_d2l_seconds_550k=None if snli_d_550k is None else round(snli_d_550k, 2),
        snli_preprocess_d2l_extrapolated=bool(snli_d_pairs and snli_d_pairs != SNLI_TRAIN_PAIRS),
        snli_preprocess_speedup_vs_d2l=_ratio(snli_d_550k, snli_g_550k),
        wikitext_examples_speedup_vs_d2l=_ratio(get('wiki_d2l', 'seconds'),
                                                get('wiki_gluon', 'seconds')),
        finetune_examples_per_sec=ft,
        pretrain_pairs_per_sec=pt,
        sgemm_gflops=sgemm,
        peak_rss_mib={k: v.get('peak_rss_mib') for k, v in R.items()},
        jobs=R,
        settings=dict(S, mode=mode, preset=PRESET, vocab_size=prep['vocab_size'],
                      finetune_max_len=MAX_LEN, pretrain_max_len=PRETRAIN_MAX_LEN, seed=SEED,
                      threads_headline=1, threads_extra=2,
                      threads_note='OMP_NUM_THREADS (and MXNET_OMP_MAX_THREADS, '
                      'OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) set to the job\'s thread count; '
                      'torch.set_num_threads likewise', inputs=notes),
        machine=dict(platform=platform.platform(), processor=_cpu_model(),
                     machine=platform.machine(), cpu_count=os.cpu_count(),
                     python=platform.python_version()),
        versions=_merged_versions(R),
        load_average_start=load_start, load_average_end=load_end,
        other_busy_processes_at_start=busy,
        date=started.strftime('%Y-%m-%d %H:%M:%S UTC'), total_seconds=round(total_seconds, 1),
        targets=dict(finetune_vs_d2l_mxnet=5.0, finetune_vs_pytorch_padded=3.0,
                     finetune_vs_pytorch_dynamic=1.0, pretrain_vs_d2l_mxnet=3.0,
                     snli_preprocess_seconds_550k=15.0),
    )
    return report


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _merged_versions(R):
    out = {}
    for r in R.values():
        out.update(r.get('versions') or {})
    return out


def format_report(rep):
    J = rep['jobs']
    lines = []
    s = rep['settings']
    lines.append('gluon_bert benchmarks (%s), %s' % (s['mode'], rep['date']))
    m = rep['machine']
    lines.append('machine: %s, %s, %d CPUs; load average at start %s, at end %s'
                 % (m['platform'], m['processor'], m['cpu_count'], rep['load_average_start'],
                    rep['load_average_end']))
    v = rep['versions'] or {}
    lines.append('versions: python %s, mxnet %s, numpy %s, gluonnlp %s, d2l %s, torch %s'
                 % (v.get('python'), v.get('mxnet'), v.get('numpy'), v.get('gluonnlp'),
                    v.get('d2l'), v.get('torch')))
    prep = J['prep']
    lines.append('model: %s (2 blocks, 256 hidden, 4 heads, FFN 512), vocabulary %d '
                 '(WikiText-2, min_freq 5); batch %d' % (s['preset'], s['vocab_size'],
                                                        s['batch_size']))
    lines.append('data: %s; fine-tuning %d pairs (mean length %.1f tokens, max %d); '
                 'pretraining examples %d (mean length %.1f, %.1f MLM targets)'
                 % (s['inputs']['snli'], prep['finetune_pairs'], prep['finetune_mean_valid_len'],
                    prep['finetune_max_valid_len'], prep['pretrain_examples'],
                    prep['pretrain_mean_valid_len'], prep['pretrain_mean_mlm_preds']))
    lines.append('')
    head = '%-46s %9s %7s %7s %7s %8s %9s %8s' % (
        'fine-tuning (one timed epoch)', 'ex/sec', 'wall s', 'CPU s', 'pad len', 'GFLOPS',
        'peak MiB', 'gluon x')
    lines.append(head)
    lines.append('-' * len(head))
    rows = [('ft_d2l_mxnet', "(a) chapter's MXNet code, padded to 128"),
            ('ft_gluon_bucket10', '(b) gluon_bert finetune, --bucket 10'),
            ('ft_gluon_bucket0', '(b) gluon_bert finetune, default (bucket 0)'),
            ('ft_torch_padded_t1', '(c) PyTorch twin, padded to 128, 1 thread'),
            ('ft_torch_bucket10_t1', '(d) PyTorch twin, (b) bucket=10 batches, 1 thr'),
            ('ft_torch_dynamic_t1', '(d) PyTorch twin, (b) bucket=0 batches, 1 thr'),
            ('ft_d2l_mxnet_t2', "(a) chapter's MXNet code, 2 threads"),
            ('ft_gluon_bucket10_t2', '(b) gluon_bert, --bucket 10, 2 threads'),
            ('ft_gluon_bucket0_t2', '(b) gluon_bert, default, 2 threads'),
            ('ft_torch_padded_t2', '(c) PyTorch twin, padded to 128, 2 threads'),
            ('ft_torch_bucket10_t2', '(d) PyTorch twin, bucket=10 batches, 2 thr'),
            ('ft_torch_dynamic_t2', '(d) PyTorch twin, bucket=0 batches, 2 thr')]
    for key, label in rows:
        r = J.get(key)
        if not r:
            continue
        # "gluon x": gluon_bert --bucket 10 on as many threads, over this row.
        g0 = J.get('ft_gluon_bucket10' + ('_t2' if key.endswith('_t2') else ''),
                   {}).get('examples_per_sec')
        lines.append('%-46s %9.1f %7.1f %7.1f %7.1f %8.1f %9.0f %8s' % (
            label, r['examples_per_sec'], r['seconds'], r['cpu_seconds'],
            r.get('mean_padded_len', MAX_LEN), r['matmul_gflops_achieved'], r['peak_rss_mib'],
            '%.2f' % (g0 / r['examples_per_sec']) if g0 else '-'))
    lines.append('')
    head = '%-46s %9s %7s %7s %7s %8s %9s' % ('pretraining (max_len 64)', 'pairs/s',
                                               'wall s', 'steps', 'pad len', 'GFLOPS',
                                               'peak MiB')
    lines.append(head)
    lines.append('-' * len(head))
    for key, label in (('pt_d2l_mxnet', "d2l _get_batch_loss_bert, padded to 64"),
                       ('pt_gluon_bucket10', 'gluon_bert pretrain, --bucket 10'),
                       ('pt_gluon_bucket0', 'gluon_bert pretrain, default (bucket 0)'),
                       ('pt_d2l_mxnet_t2', 'd2l, 2 threads'),
                       ('pt_gluon_bucket10_t2', 'gluon_bert, --bucket 10, 2 threads'),
                       ('pt_gluon_bucket0_t2', 'gluon_bert, default, 2 threads')):
        r = J.get(key)
        if r:
            lines.append('%-46s %9.1f %7.1f %7d %7.1f %8.1f %9.0f' % (
                label, r['pairs_per_sec'], r['seconds'], r['steps'],
                r.get('mean_padded_len', PRETRAIN_MAX_LEN), r['matmul_gflops_achieved'],
                r['peak_rss_mib']))
    lines.append('')
    head = '%-46s %10s %8s %9s %9s' % ('data preparation', 'items', 'seconds', 'peak MiB',
                                       'workers')
    lines.append(head)
    lines.append('-' * len(head))
    lines.append('(SNLI: the %d source pairs replicated; WikiText-2: read_wiki + examples '
                 'at max_len %d)' % (prep['snli_source_pairs'], PRETRAIN_MAX_LEN))
    for key, label, n in (('snli_d2l', "SNLIBERTDataset, chapter's code", 'pairs'),
                          ('snli_gluon', 'SNLIBERTDataset, gluon_bert', 'pairs'),
                          ('wiki_d2l', 'WikiText-2 examples, d2l', 'examples'),
                          ('wiki_gluon', 'WikiText-2 examples, gluon_bert', 'examples')):
        r = J.get(key)
        if r:
            w = r.get('pool_workers_peak_rss_mib')
            lines.append('%-46s %10d %8.1f %9.0f %9s' % (label, r[n], r['seconds'],
                                                          r['peak_rss_mib'],
                                                          '-' if not w else '%.0f' % w))
    noisy = ['%s %.2f' % (k, v['other_processes_cpu_share']) for k, v in sorted(J.items())
             if (v.get('other_processes_cpu_share') or 0) >= 0.05]
    if noisy:
        lines.append('  other processes kept cores busy during: %s (cores)' % ', '.join(noisy))
    if rep['snli_preprocess_d2l_extrapolated']:
        lines.append("  (the chapter's SNLI build ran on %d pairs; its 550,152-pair time is "
                     "extrapolated linearly: %.1f s)" % (J['snli_d2l']['pairs'],
                                                         rep['snli_preprocess_d2l_seconds_550k']))
    lines.append('')
    t = rep['targets']
    checks = [
        ('fine-tuning vs chapter MXNet', rep['finetune_speedup_vs_d2l_mxnet'],
         rep['finetune_bucket0_speedup_vs_d2l_mxnet'], t['finetune_vs_d2l_mxnet']),
        ('fine-tuning vs PyTorch padded (1 thread)', rep['finetune_speedup_vs_pytorch_padded'],
         rep['finetune_bucket0_speedup_vs_pytorch_padded'], t['finetune_vs_pytorch_padded']),
        ('fine-tuning vs PyTorch, same batches (1 thr)',
         rep['finetune_speedup_vs_pytorch_dynamic'],
         rep['finetune_bucket0_speedup_vs_pytorch_dynamic'], t['finetune_vs_pytorch_dynamic']),
        ('pretraining vs chapter MXNet', rep['pretrain_speedup_vs_d2l_mxnet'],
         rep['pretrain_bucket0_speedup_vs_d2l_mxnet'], t['pretrain_vs_d2l_mxnet']),
        ('2 threads: fine-tuning vs chapter MXNet',
         rep['finetune_speedup_vs_d2l_mxnet_2threads'],
         rep['finetune_bucket0_speedup_vs_d2l_mxnet_2threads'], t['finetune_vs_d2l_mxnet']),
        ('2 threads: fine-tuning vs PyTorch padded',
         rep['finetune_speedup_vs_pytorch_padded_2threads'],
         rep['finetune_bucket0_speedup_vs_pytorch_padded_2threads'],
         t['finetune_vs_pytorch_padded']),
        ('2 threads: fine-tuning vs PyTorch, same batches',
         rep['finetune_speedup_vs_pytorch_dynamic_2threads'],
         rep['finetune_bucket0_speedup_vs_pytorch_dynamic_2threads'],
         t['finetune_vs_pytorch_dynamic']),
        ('2 threads: pretraining vs chapter MXNet',
         rep['pretrain_speedup_vs_d2l_mxnet_2threads'],
         rep['pretrain_bucket0_speedup_vs_d2l_mxnet_2threads'], t['pretrain_vs_d2l_mxnet']),
    ]
    head = '%-46s %10s %10s %8s' % ('ratio', 'bucket 10', 'default', 'target')
    lines.append(head)
    lines.append('-' * len(head))
    for label, a, b, target in checks:
        lines.append('%-46s %10s %10s %8s' % (label, _fmt_x(a), _fmt_x(b), '>= %g' % target))
    lines.append('%-46s %10s %10s %8s' % ('SNLI preprocessing 550k pairs (s)',
                                          rep['snli_preprocess_seconds_550k'], '',
                                          '< %g' % t['snli_preprocess_seconds_550k']))
    lines.append('%-46s %10s' % ('SNLI preprocessing vs chapter',
                                 _fmt_x(rep['snli_preprocess_speedup_vs_d2l'])))
    lines.append('%-46s %10s' % ('WikiText-2 examples vs d2l',
                                 _fmt_x(rep['wikitext_examples_speedup_vs_d2l'])))
    if rep['sgemm_gflops']:
        lines.append('')
        lines.append('sgemm GFLOPS')
        for k, gf in sorted(rep['sgemm_gflops'].items()):
            for op, val in gf.items():
                lines.append('  %-18s %-58s %8.1f' % (k, op, val))
    ops = {k: v.get('ops_ms') for k, v in J.items() if v.get('ops_ms')}
    if ops:
        lines.append('')
        lines.append('operator micro-benchmarks (ms per call)')
        for k, d in sorted(ops.items()):
            for op, ms in d.items():
                lines.append('  %-18s %-58s %8.2f' % (k, op, ms))
    for key in ('prof_gluon', 'prof_torch', 'prof_pt_gluon'):
        p = J.get(key, {}).get('profile')
        if not p:
            continue
        lines.append('')
        lines.append('%s: operators %.1f s of %.1f s wall (%s)' % (
            key, p['operator_ms_total'] / 1000.0, p['wall_seconds'],
            ', '.join('%s %.0f%%' % (g, 100 * d['share']) for g, d in sorted(
                p['groups'].items(), key=lambda kv: -kv[1]['ms']) if d['share'])))
        for e in p['top'][:8]:
            lines.append('  %-44s %9.1f ms %6d calls %5.1f%%' % (e['name'][:44], e['ms'],
                                                               e['count'], 100 * e['share']))
    return '\n'.join(lines)


def _fmt_x(x):
    return '-' if x is None else '%.2fx' % x


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--json', help='write the results here')
    p.add_argument('--quick', action='store_true', help='fewer steps and pairs (about 4 min)')
    p.add_argument('--snli', default=DEFAULT_SNLI,
                   help='SNLI pairs (TSV, or .xz), relative to the repository root '
                        '(default %(default)s; synthetic pairs when absent)')
    p.add_argument('--wikitext', default=None,
                   help='folder holding wiki.train.tokens (default: unpack %s; synthetic '
                        'when absent)' % DEFAULT_WIKI_XZ)
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--only', nargs='*', default=None,
                   help='run only the jobs whose names start with these (prep always runs)')
    p.add_argument('--workdir', default=None, help='keep the job files here')
    p.add_argument('--keep-workdir', action='store_true')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    p.add_argument('--job', help=argparse.SUPPRESS)
    p.add_argument('--spec', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.job, args.spec)
    if not args.json:
        p.error('--json FILE is required')
    report = run_all(args)
    text = format_report(report)
    report['table'] = text
    _write_json(args.json, report)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
