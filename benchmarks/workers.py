"""What runs inside the benchmark's job processes (`run.py` starts one per job):
the shared data (`prep`), gluon_bert's fine-tuning, pretraining and data
preparation, the PyTorch twin's fine-tuning, and the helpers the chapter's jobs
(`chapter.py`) use too.  Frameworks are imported inside the jobs only; gluon_bert's
training is called through `gluon_bert.compare.gluon_side`."""
import json
import os
import resource
import sys

import numpy as np

from benchmarks import kernels
from gluon_bert.fileio import write_json_atomic
from gluon_bert.compare.batches import (NLIArrays, epoch_orders, batches_of, batch_arrays,
                                        padded_shapes)
from gluon_bert.compare.process import CPUClock, load_average, max_rss_mib

SNLI_TRAIN_PAIRS = 550152
MAX_LEN = 128              # fine-tuning inputs (the chapter's)
PRETRAIN_MAX_LEN = 64      # pretraining inputs (the chapter's MXNet pretraining)
PRESET = 'bert.small'
SEED = 0
FT_BUCKETS = 10            # the scripts' --bucket 10 (the fast setting)
PRETRAIN_FIELDS = ('all_token_ids', 'all_segments', 'valid_lens', 'all_pred_positions',
                   'all_mlm_weights', 'all_mlm_labels', 'nsp_labels')


# ---------------------------------------------------------------------------
# Helpers of every job


def read_json(path):
    with open(path) as f:
        return json.load(f)


def load_now():
    """The load averages now, rounded to 2 digits (None where unknown)."""
    load = load_average()
    return None if load is None else [round(x, 2) for x in load]


def bench_config(job, spec):
    """The job's model: `spec['preset']` (default bert.small) over the vocabulary."""
    from gluon_bert.model.config import get_config
    return get_config(spec.get('preset', PRESET), len(read_json(os.path.join(job, 'vocab.json'))))


def finetune_arrays(job, spec, profile=False):
    """The fine-tuning pairs (the first `profile_steps` batches with `profile`)."""
    with np.load(os.path.join(job, 'finetune.npz')) as d:
        data = NLIArrays.from_arrays(d)
    return data.head(spec['profile_steps'] * spec['batch_size']) if profile else data


def _pretrain_path(job, max_len):
    return os.path.join(job, 'pretrain-%d.npz' % max_len)


class PretrainArrays:
    """The arrays `pretrain` reads from a WikiTextDataset, built by `prep`."""

    def __init__(self, job, max_len):
        with np.load(_pretrain_path(job, max_len)) as d:
            for k in d.files:
                setattr(self, k, d[k])

    def __len__(self):
        return len(self.all_token_ids)


def snli_triple(path):
    """(premises, hypotheses, labels) of an SNLI file (gluon_bert's reader)."""
    from gluon_bert.data.snli import read_snli_file
    d = read_snli_file(path)
    return list(d.premises), list(d.hypotheses), list(d.labels)


def replicate(triple, n):
    """The first `n` pairs of the triple repeated; every string a distinct object
    (as when read from a file), so no pickle or cache can share repeated ones."""
    p, h, y = triple
    reps = -(-n // len(y))
    premises = [s.encode().decode() for s in (p * reps)[:n]]
    hypotheses = [s.encode().decode() for s in (h * reps)[:n]]
    return premises, hypotheses, (y * reps)[:n]


def train_gflop(config, shapes, mlm_rows=0):
    """Matrix-product GFLOP of training steps (forward + backward = 3 x forward)
    of the encoder over `shapes` [(batch size, padded length)], plus the MaskLM
    head over `mlm_rows` predicted positions.  Dense layers: 2 (4 H^2 + 2 H F)
    FLOPs per token and block; attention: 2 * 2 L H per token and block."""
    H, F, nb, V = config.num_hiddens, config.ffn_num_hiddens, config.num_blks, config.vocab_size
    flops = sum(b * L * nb * (2 * (4 * H * H + 2 * H * F) + 4 * L * H) for b, L in shapes)
    return 3 * (flops + mlm_rows * 2 * (H * H + H * V)) / 1e9


def measures(config, shapes, seconds, load, unit, count, mlm_rows=0, padded=True):
    """What a training job reports of its timed steps (`shapes`, see train_gflop):
    `count` examples or pairs (`unit`) over `seconds`, their matrix-product
    GFLOP and rate, the load averages before them and (`padded`) the mean
    padded length."""
    gflop = train_gflop(config, shapes, mlm_rows)
    out = {unit: count, 'steps': len(shapes), 'seconds': seconds,
           unit + '_per_sec': count / seconds, 'matmul_gflop': gflop,
           'matmul_gflops_achieved': gflop / seconds, 'load_at_start': load}
    if padded:
        out['mean_padded_len'] = float(np.mean([L for _, L in shapes]))
    return out


def timed_examples(read, build):
    """Seconds to read a corpus (`read()`) and build its pretraining examples
    (`build(paragraphs)`)."""
    load = load_now()
    clock = CPUClock()
    paragraphs = read()
    read_seconds = clock.lap()[0]
    ds = build(paragraphs)
    wall, cpu = clock.lap()
    return dict(examples=len(ds), seconds=wall, read_seconds=read_seconds, cpu_seconds=cpu,
                vocab_size=len(ds.vocab), load_at_start=load)


class TimedEpoch:
    """`on_epoch_end` callback: the CPU seconds of the second epoch.  `before` is
    called at the end of the first (to start a profiler)."""

    def __init__(self, before=None):
        self.before, self.clock, self.cpu_seconds = before, None, None

    def __call__(self, record):
        if self.clock is None:
            if self.before is not None:
                self.before()
            self.clock = CPUClock()
        else:
            self.cpu_seconds = self.clock.lap()[1]


# ---------------------------------------------------------------------------
# Jobs


def prep(job, spec):
    """The shared data: WikiText-2 vocabulary and pretraining examples (gluon_bert's
    WikiTextDataset at each of `pretrain_max_lens`), the fine-tuning pairs encoded
    to 128, and the batches `finetune(bucket=FT_BUCKETS)` draws from them."""
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.text.vocab import WordTokenizer
    from gluon_bert.data.wikitext import read_wiki, WikiTextDataset
    from gluon_bert.compare.gluon_side import drawn_batches
    paragraphs = read_wiki(spec['wikitext_dir'], seed=SEED)
    wiki = WikiTextDataset(paragraphs, max_len=PRETRAIN_MAX_LEN, seed=SEED)
    idx_to_token = list(wiki.vocab.idx_to_token)
    write_json_atomic(os.path.join(job, 'vocab.json'), idx_to_token)
    with open(os.path.join(job, 'vocab.gluonnlp.json'), 'w') as f:
        f.write(wiki.vocab.to_json())
    out = {}
    for max_len in spec['pretrain_max_lens']:
        ds = wiki if max_len == PRETRAIN_MAX_LEN else WikiTextDataset(
            paragraphs, max_len=max_len, vocab=wiki.vocab, seed=SEED)
        np.savez(_pretrain_path(job, max_len), **{f: getattr(ds, f) for f in PRETRAIN_FIELDS})
        if ds is not wiki:
            out.update({'pretrain_examples_%d' % max_len: len(ds),
                        'pretrain_mean_valid_len_%d' % max_len: float(ds.valid_lens.mean())})
    # Fine-tuning pairs: a seeded sample of the SNLI pairs (replicated if needed).
    triple = snli_triple(spec['snli_tsv'])
    n = spec['ft_pairs']
    order = np.random.RandomState(SEED).permutation(max(n, len(triple[2])))
    pool = replicate(triple, len(order))
    pick = order[:n]
    pairs = ([pool[0][i] for i in pick], [pool[1][i] for i in pick], [pool[2][i] for i in pick])
    ds = NLIArrays.of(SNLIBERTDataset(pairs, MAX_LEN, tokenizer=WordTokenizer(wiki.vocab),
                                      num_workers=1))
    np.savez(os.path.join(job, 'finetune.npz'), **ds.arrays())
    # The batches finetune(bucket=FT_BUCKETS) trains on, for the PyTorch twin.
    np.savez(os.path.join(job, 'bucket_batches.npz'), **{
        'e%d_%04d' % (e, b): np.asarray(idx) for e, batches in enumerate(
            drawn_batches(ds.valid_lens, spec['batch_size'], FT_BUCKETS, SEED, 2))
        for b, idx in enumerate(batches)})
    unk = wiki.vocab.token_to_idx['<unk>']
    valid = ds.valid_lens
    tokens = ds.all_token_ids[np.arange(MAX_LEN) < valid[:, None]]
    return dict(out, vocab_size=len(idx_to_token), pretrain_examples=len(wiki),
                pretrain_mean_valid_len=float(wiki.valid_lens.mean()),
                pretrain_mean_mlm_preds=float(wiki.all_mlm_weights.sum(axis=1).mean()),
                finetune_pairs=int(n), finetune_mean_valid_len=float(valid.mean()),
                finetune_max_valid_len=int(valid.max()),
                finetune_unk_fraction=float((tokens == unk).mean()),
                snli_source_pairs=len(triple[2]))


def ft_gluon(job, spec, profile=False):
    """(b) gluon_bert's finetune as `jobs.run_finetuning` calls it (hybridized, the
    trainer of `optim.make_trainer`); epoch 1: warm-up, epoch 2: timed.  The
    spec's `devices` N > 1: data parallel over the contexts cpu(0) ... cpu(N-1)
    (`--ctx cpu(0),cpu(1)`), each batch split over them as over GPUs."""
    import mxnet as mx
    from mxnet import init
    from gluon_bert.model.bert import BERTModel, BERTClassifier
    from gluon_bert.compare.gluon_side import finetune_gluon, drawn_batches
    mx.random.seed(SEED)
    np.random.seed(SEED)
    data = finetune_arrays(job, spec, profile)
    config = bench_config(job, spec)
    ctxs = [mx.cpu(i) for i in range(spec.get('devices', 1))]
    bert = BERTModel(config)
    bert.initialize(init.Xavier(), ctx=ctxs)
    net = BERTClassifier(bert)
    for block in net.new_blocks():
        block.initialize(init.Xavier(), ctx=ctxs)
    B, bucket = spec['batch_size'], spec.get('bucket', 0)
    epoch = TimedEpoch(None if not profile else lambda: kernels.start_mxnet_profiler(
        os.path.join(job, 'mxnet-profile.json')))
    load = load_now()
    summary = finetune_gluon(net, data, ctxs, B, 1e-4, bucket=bucket, num_epochs=2, seed=SEED,
                             on_epoch_end=epoch)
    r1, r2 = summary['records']
    seconds = r2['train_seconds'] - r1['train_seconds']
    # The second epoch's batches, drawn again as finetune draws them.
    timed = drawn_batches(data.valid_lens, B, bucket, SEED, 2)[1]
    out = dict(measures(config, padded_shapes(data.valid_lens, timed, MAX_LEN), seconds, load,
                        'examples', len(data)),
               cpu_seconds=epoch.cpu_seconds, first_epoch_examples_per_sec=r1['examples_per_sec'],
               padding=('per batch, x8' if not bucket else
                        'FixedBucketSampler, %d buckets' % bucket),
               bucket=bucket, train_loss=r2['train_loss'], hybridized=True, devices=len(ctxs))
    if profile:
        out['profile'] = kernels.stop_mxnet_profiler(seconds)
    return out


def ft_torch(job, spec, profile=False):
    """(c, d) The PyTorch twin (`torch_train.finetune`): padded to max_len
    (`pad='max_len'`), or per batch on the batches of (b) (`'batch'`: bucket 0,
    `'bucket'`: FT_BUCKETS buckets)."""
    import torch
    from gluon_bert.compare import torch_twin, torch_train
    threads, pad = spec['threads'], spec['pad']
    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    data = finetune_arrays(job, spec, profile)
    config = bench_config(job, spec)
    model = torch_twin.BERTClassifier(torch_twin.BERTModel(config))
    B, W = spec['batch_size'], spec['ft_warmup']
    if pad == 'bucket':                  # finetune(bucket=FT_BUCKETS)'s batches
        with np.load(os.path.join(job, 'bucket_batches.npz')) as d:
            epochs = [[d[k] for k in sorted(d.files) if k.startswith('e%d_' % e)]
                      for e in range(2)]
    else:
        epochs = [batches_of(order, B) for order in epoch_orders(len(data), 2, SEED)]
    pad_to = 'max_len' if pad == 'max_len' else 'batch'
    full_warmup = pad_to == 'batch'

    def train_batches(epoch):
        for idx in epochs[epoch] if epoch or full_warmup else epochs[0][:W]:
            yield batch_arrays(data, idx, pad_to)

    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) \
        if profile else None
    epoch = TimedEpoch(None if profiler is None else profiler.start)
    load = load_now()
    records = torch_train.finetune(model, train_batches, None, 2, 1e-4, threads, SEED, epoch)
    seconds = records[1]['train_seconds'] - records[0]['train_seconds']
    out = dict(measures(config, padded_shapes(data.valid_lens, epochs[1], MAX_LEN, pad_to),
                        seconds, load, 'examples', len(data)),
               cpu_seconds=epoch.cpu_seconds, torch_threads=threads,
               torch_get_num_threads=torch.get_num_threads(),
               padding='to max_len %d' % MAX_LEN if pad == 'max_len' else 'per batch, x8'
               + (', %d length buckets' % FT_BUCKETS if pad == 'bucket' else ''),
               warmup=('1 epoch' if full_warmup else '%d steps' % W),
               train_loss=records[1]['train_loss'], mxnet_loaded='mxnet' in sys.modules)
    if profiler is not None:
        profiler.stop()
        out['profile'] = kernels.torch_profile(profiler, seconds)
    return out


def pt_gluon(job, spec, profile=False):
    """gluon_bert's pretrain (the first `pt_warmup` steps untimed).  With
    `profile`: `profile_steps` steps, all under mxnet.profiler."""
    import mxnet as mx
    from mxnet import init
    from gluon_bert.model.bert import BERTModel
    from gluon_bert.compare.gluon_side import pretrain_steps, drawn_batches, mlm_rows
    mx.random.seed(SEED)
    np.random.seed(SEED)
    max_len = spec.get('max_len', PRETRAIN_MAX_LEN)
    ex = PretrainArrays(job, max_len)
    B, W, S = spec['batch_size'], spec['pt_warmup'], spec['pt_steps']
    bucket = spec.get('bucket', 0)
    if profile:
        W, S = 1, spec['profile_steps']
        kernels.start_mxnet_profiler(os.path.join(job, 'mxnet-pretrain-profile.json'))
    config = bench_config(job, spec)
    net = BERTModel(config)
    net.initialize(init.Xavier(), ctx=mx.cpu())
    load = load_now()
    clock = CPUClock()
    summary = pretrain_steps(net, ex, [mx.cpu()], W + S, B, 0.01, seed=SEED, log_interval=W,
                             bucket=bucket)
    _, cpu = clock.lap()
    first, last = summary['records'][0], summary['records'][-1]
    assert first['step'] == W and last['step'] == W + S, summary['records']
    seconds = last['time'] - first['time']
    # The timed steps' batches, drawn again as pretrain draws them.
    batches = drawn_batches(ex.valid_lens, B, bucket, SEED, 1)[0][W:W + S]
    rows = sum(mlm_rows(ex, idx) for idx in batches)
    out = dict(measures(config, padded_shapes(ex.valid_lens, batches, max_len), seconds, load,
                        'pairs', S * B, mlm_rows=rows),
               mlm_rows_per_step=rows / len(batches), cpu_seconds_all_steps=cpu,
               all_steps_seconds=summary['seconds'],
               padding='per batch, x8%s; real MLM targets only'
               % (', %d length buckets' % bucket if bucket else ''),
               mlm_loss=last['mlm_loss'], nsp_loss=last['nsp_loss'], warmup_steps=W)
    if profile:
        out['profile'] = kernels.stop_mxnet_profiler(summary['seconds'])
        out['profile']['note'] = 'all %d steps (graph building included)' % (W + S)
    return out


def snli_gluon(job, spec):
    """gluon_bert's SNLIBERTDataset over 550,152 pairs (its default workers)."""
    from gluon_bert.data.snli import SNLIBERTDataset
    from gluon_bert.text.vocab import WordTokenizer
    import gluonnlp as nlp
    with open(os.path.join(job, 'vocab.gluonnlp.json')) as f:
        vocab = nlp.Vocab.from_json(f.read())
    pairs = replicate(snli_triple(spec['snli_tsv']), SNLI_TRAIN_PAIRS)
    load = load_now()
    clock = CPUClock()
    ds = SNLIBERTDataset(pairs, MAX_LEN, tokenizer=WordTokenizer(vocab))
    wall, cpu = clock.lap()
    return dict(pairs=len(ds), seconds=wall, cpu_seconds_main=cpu, load_at_start=load,
                pool_processes=ds._pool_size(None, 10000),
                pool_workers_peak_rss_mib=max_rss_mib(resource.RUSAGE_CHILDREN),
                mean_valid_len=float(np.mean(ds.valid_lens)))


def wiki_gluon(job, spec):
    """gluon_bert's `read_wiki` + `WikiTextDataset` (max_len 64)."""
    from gluon_bert.data.wikitext import read_wiki, WikiTextDataset
    return timed_examples(lambda: read_wiki(spec['wikitext_dir'], seed=SEED),
                          lambda p: WikiTextDataset(p, max_len=PRETRAIN_MAX_LEN, seed=SEED))
