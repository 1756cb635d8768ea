"""The chapter's code paths, the benchmark's baselines: the MXNet section of
"Natural Language Inference: Fine-Tuning BERT" (its `SNLIBERTDataset`, its
`BERTClassifier`, `d2l.train_batch_ch13`) and d2l's pretraining step and
WikiText-2 examples (`_get_batch_loss_bert`, `_read_wiki`, `_WikiTextDataset`),
with the chapter's revision of the d2l library, d2l 0.12.0 (`import_d2l`).
Each job runs in its own process (see `run.py`); the chapter's classes need
d2l and `npx.set_np()`, so they are defined inside the job that runs them."""
import importlib.util
import multiprocessing
import os
import random
import resource
import sys

from benchmarks.workers import (MAX_LEN, PRETRAIN_MAX_LEN, SEED, read_json, load_now,
                                bench_config, finetune_arrays, PretrainArrays, snli_triple,
                                replicate, measures, timed_examples)
from gluon_bert.compare.process import CPUClock, max_rss_mib

# The d2l library of the chapter's revision: `train_bert(train_iter, net, loss,
# vocab_size, ctx, log_interval, num_steps)` with Adam at lr 1e-3.
D2L_VERSION = '0.12.0'


def import_d2l():
    """d2l 0.12.0's module `d2l.d2l` (which also holds the private helpers
    `_read_wiki`, `_WikiTextDataset`, `_get_batch_loss_bert`); exits with an
    error line when `import d2l` finds no d2l or another version."""
    version = None
    if importlib.util.find_spec('d2l') is not None:
        import d2l
        version = getattr(d2l, '__version__', 'of unknown version')
    if version != D2L_VERSION:
        raise SystemExit(
            "error: the chapter's code is d2l %s, but `import d2l` finds %s: install it "
            "with `pip install --no-deps d2l==%s`, or next to another d2l with `pip install "
            "--no-deps --target DIR d2l==%s` and run with PYTHONPATH=DIR"
            % (D2L_VERSION, 'no d2l' if version is None else 'd2l %s' % version,
               D2L_VERSION, D2L_VERSION))
    return sys.modules['d2l.d2l']


def _chapter_snli_dataset_class():
    d2l = import_d2l()
    from mxnet import gluon, np

    class SNLIBERTDataset(gluon.data.Dataset):
        """BASELINE -- the chapter's code path, unchanged."""

        def __init__(self, dataset, max_len, vocab=None):
            all_premise_hypothesis_tokens = [[
                p_tokens, h_tokens] for p_tokens, h_tokens in zip(
                d2l.tokenize(dataset[0]), d2l.tokenize(dataset[1]))]

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
            self.bert = bert
            self.classifier = nn.Sequential()
            self.classifier.add(nn.Dense(256, activation='relu'))
            # There are 3 possible outputs: entailment, contradiction, and neutral
            self.classifier.add(nn.Dense(3))

        def forward(self, inputs):
            tokens_X, segments_X, valid_lens_x = inputs
            encoded_X, _, _ = self.bert(tokens_X, segments_X, valid_lens_x)
            return self.classifier(encoded_X[:, 0, :])

    return BERTClassifier


def _d2l_vocab(idx_to_token):
    """A d2l.Vocab holding the token list `idx_to_token` (the chapter's
    pretraining vocabulary)."""
    d2l = import_d2l()
    vocab = d2l.Vocab([])
    vocab.idx_to_token = list(idx_to_token)
    vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
    return vocab


def ft_d2l(job, spec):
    """(a) The chapter's MXNet fine-tuning code path."""
    import numpy as onp
    d2l = import_d2l()
    import mxnet as mx
    from mxnet import gluon, np, npx
    npx.set_np()
    mx.random.seed(SEED)
    onp.random.seed(SEED)
    c = bench_config(job, spec)
    data = finetune_arrays(job, spec)
    B, W = spec['batch_size'], spec['ft_warmup']
    # The chapter's pretrained d2l.BERTModel, of the benchmark's sizes, with
    # Xavier weights (the speed does not depend on them).
    bert, devices = _d2l_bert(c)
    net = _chapter_classifier_class()(bert)
    net.classifier.initialize(ctx=devices)

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
    load = load_now()
    for i, (features, labels) in enumerate(train_iter):   # warm-up
        if i == W:
            break
        d2l.train_batch_ch13(net, features, labels, loss, trainer, devices,
                             d2l.split_batch_multi_inputs)
    clock = CPUClock()
    seen = steps = 0
    loss_sum = 0.0
    for features, labels in train_iter:                   # one timed epoch
        l, acc = d2l.train_batch_ch13(net, features, labels, loss, trainer, devices,
                                      d2l.split_batch_multi_inputs)
        loss_sum += l
        seen += labels.shape[0]
        steps += 1
    wall, cpu = clock.lap()
    shapes = [(B, MAX_LEN)] * (seen // B) + ([(seen % B, MAX_LEN)] if seen % B else [])
    return dict(measures(c, shapes, wall, load, 'examples', seen, padded=False),
                cpu_seconds=cpu, padding='to max_len %d' % MAX_LEN,
                dataloader_workers=num_workers, train_loss=loss_sum / seen, warmup_steps=W)


def pt_d2l(job, spec):
    """d2l's pretraining step: `_get_batch_loss_bert` + `trainer.step(1)` with
    Adam at lr 1e-3, the chapter's `train_bert` loop over a DataLoader of
    max_len-padded examples."""
    import numpy as onp
    d2l = import_d2l()
    import mxnet as mx
    from mxnet import autograd, gluon, np, npx
    npx.set_np()
    mx.random.seed(SEED)
    onp.random.seed(SEED)
    c = bench_config(job, spec)
    max_len = spec.get('max_len', PRETRAIN_MAX_LEN)
    ex = PretrainArrays(job, max_len)
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
    net, devices = _d2l_bert(c)
    loss = gluon.loss.SoftmaxCELoss()
    vocab_size = c.vocab_size
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 1e-3})
    load = load_now()
    step, clock, seen = 0, None, 0
    mlm_sum = nsp_sum = 0.0
    for batch in train_iter:
        if step == W:
            clock = CPUClock()
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
    return dict(measures(c, [(B, max_len)] * S, wall, load, 'pairs', seen,
                         mlm_rows=S * B * slots, padded=False),
                cpu_seconds=cpu, padding='to max_len %d, %d MLM slots' % (max_len, slots),
                dataloader_workers=num_workers, mlm_loss=mlm_sum / S, nsp_loss=nsp_sum / S,
                warmup_steps=W)


def _d2l_bert(c):
    """(d2l.BERTModel of the sizes of the config `c`, built and Xavier-initialised
    as the chapter builds its BERT (max_len d2l's default), its devices: the
    chapter's `d2l.try_all_gpus()`).  All its parameters hold weights, as after
    the chapter's pretraining (a trainer of them all needs the MaskLM's too)."""
    d2l = import_d2l()
    from mxnet import init, np
    devices = d2l.try_all_gpus()
    net = d2l.BERTModel(c.vocab_size, num_hiddens=c.num_hiddens,
                        ffn_num_hiddens=c.ffn_num_hiddens, num_heads=c.num_heads,
                        num_layers=c.num_blks, dropout=c.dropout)
    net.initialize(init.Xavier(), ctx=devices)
    ids = np.zeros((1, 2), dtype='int32', ctx=devices[0])
    net(ids, ids, np.array([2.0], ctx=devices[0]), ids[:, :1])
    return net, devices


def snli_d2l(job, spec):
    """The chapter's SNLIBERTDataset over `snli_chapter_pairs` pairs."""
    from mxnet import npx
    npx.set_np()
    SNLIBERTDataset = _chapter_snli_dataset_class()
    vocab = _d2l_vocab(read_json(os.path.join(job, 'vocab.json')))
    pairs = replicate(snli_triple(spec['snli_tsv']), spec['snli_chapter_pairs'])
    load = load_now()
    clock = CPUClock()
    ds = SNLIBERTDataset(pairs, MAX_LEN, vocab)
    wall, cpu = clock.lap()
    n = len(ds)
    # The pool is never closed, but it is garbage-collected when `_preprocess`
    # returns, and its finalizer then terminates and reaps the workers (inside
    # the timed build); the largest one's peak RSS is in RUSAGE_CHILDREN.
    workers = _live_children_peak_rss() or max_rss_mib(resource.RUSAGE_CHILDREN)
    return dict(pairs=n, seconds=wall, cpu_seconds_main=cpu, load_at_start=load,
                pool_processes=4, pool_workers_peak_rss_mib=workers,
                mean_valid_len=float(ds.valid_lens.asnumpy().mean()))


def _live_children_peak_rss():
    """Peak RSS (VmHWM, MiB) of this process's live children (Linux), summed;
    None when none is alive."""
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


def wiki_d2l(job, spec):
    """d2l's `_read_wiki` + `_WikiTextDataset` (max_len 64)."""
    d2l = import_d2l()
    from mxnet import npx
    npx.set_np()
    random.seed(SEED)
    return timed_examples(lambda: d2l._read_wiki(spec['wikitext_dir']),
                          lambda p: d2l._WikiTextDataset(p, PRETRAIN_MAX_LEN))
