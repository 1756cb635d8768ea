"""d2l's own pretraining code path, run for many steps and logged as gluon_bert
logs its runs: the side-by-side of the chapter's curve.

The chapter's `train_bert` step (d2l 1.0.3's `BERTModel`, Xavier initialisation,
`_get_batch_loss_bert`, `gluon.Trainer(..., 'adam', {'learning_rate': lr})`,
`trainer.step(1)`, a shuffling DataLoader of max_len-padded examples) on the
WikiText-2 examples gluon_bert builds (`WikiTextDataset`, same vocabulary and
seed).  Every --log-interval steps a line of OUTPUT/metrics.jsonl has the
interval's mean MLM and NSP losses and their running means (`*_running`, what
d2l prints); every --eval-interval steps also `val_enc_spread` (see
`gluon_bert.train.pretrain.evaluate_pretraining`) and the MLM and NSP losses
on the validation pairs of wiki.valid.tokens.  `gluon-bert plot` draws it
beside a gluon_bert run.

    python -m benchmarks.chapter_curve --data-dir ../shared/data/wikitext-2 \\
        --num-steps 300 --output /tmp/d2l-curve
"""
import argparse
import json
import os
import time

import numpy as onp

from gluon_bert.fileio import dumps_json

LOSS_KEYS = ('mlm_loss', 'nsp_loss')


def _d2l_arrays(np, ds):
    """A WikiTextDataset as the mxnet.np arrays of d2l's `_WikiTextDataset` items."""
    return (np.array(ds.all_token_ids, dtype='int32'), np.array(ds.all_segments, dtype='int32'),
            np.array(ds.valid_lens, dtype='float32'),
            np.array(ds.all_pred_positions, dtype='int32'),
            np.array(ds.all_mlm_weights, dtype='float32'),
            np.array(ds.all_mlm_labels, dtype='int32'), np.array(ds.nsp_labels, dtype='int32'))


def _validation(net, loss, vocab_size, arrays, d2l, devices):
    """MLM and NSP loss on the validation arrays (dropout off) and the spread of
    the final encodings over their valid positions."""
    from mxnet import autograd
    tokens, segments, valid_lens, pred_positions, weights, mlm_y, nsp_y = [
        a.as_in_ctx(devices[0]) for a in arrays]
    with autograd.predict_mode():
        mlm_l, nsp_l, _ = d2l._get_batch_loss_bert(
            net, loss, vocab_size, [tokens], [segments], [valid_lens], [pred_positions],
            [weights], [mlm_y], [nsp_y])
        encoded, _, _ = net(tokens, segments, valid_lens.reshape(-1), pred_positions)
    x = encoded.asnumpy().astype(onp.float64)
    lens = valid_lens.asnumpy().astype(int)
    rows = onp.concatenate([x[b, :lens[b]] for b in range(len(lens))])
    return dict(val_mlm_loss=float(mlm_l[0]), val_nsp_loss=float(nsp_l[0]),
                val_enc_spread=float(rows.std(axis=0).mean()))


def chapter_curve(data_dir, num_steps, output, lr=0.01, batch_size=256, max_len=128,
                  seed=0, log_interval=50, eval_interval=50, eval_pairs=500):
    """Run d2l's pretraining step `num_steps` times and log it into
    `output/metrics.jsonl`; returns the records."""
    from gluon_bert.data.wikitext import WikiTextDataset
    from gluon_bert.model.config import get_config
    from gluon_bert.train.jobs import load_pretraining_paragraphs, validation_set
    from gluon_bert.train.options import PretrainArgs
    from benchmarks.chapter import _d2l_bert
    args = PretrainArgs(data_dir=data_dir, max_len=max_len, seed=seed, eval_pairs=eval_pairs)
    paragraphs, held_out = load_pretraining_paragraphs(args)
    data = WikiTextDataset(paragraphs, max_len=max_len, seed=seed)
    valid = validation_set(args, held_out, data.vocab)

    from d2l import mxnet as d2l
    import mxnet as mx
    from mxnet import autograd, gluon, np, npx
    npx.set_np()
    mx.random.seed(seed)
    onp.random.seed(seed)
    config = get_config('d2l.pretrain', len(data.vocab), max_len=max_len)
    net, devices = _d2l_bert(config)
    loss = gluon.loss.SoftmaxCELoss()
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': lr})
    train_iter = gluon.data.DataLoader(gluon.data.ArrayDataset(*_d2l_arrays(np, data)),
                                       batch_size, shuffle=True)
    valid_arrays = _d2l_arrays(np, valid)
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, 'metrics.jsonl')
    records, sums, totals = [], dict.fromkeys(LOSS_KEYS, 0.0), dict.fromkeys(LOSS_KEYS, 0.0)
    step, seen, start = 0, 0, time.perf_counter()
    with open(path, 'w') as log:
        while step < num_steps:
            for batch in train_iter:
                shards = [gluon.utils.split_and_load(elem, devices, even_split=False)
                          for elem in batch]
                with autograd.record():
                    mlm_ls, nsp_ls, ls = d2l._get_batch_loss_bert(
                        net, loss, config.vocab_size, *shards)
                for l in ls:
                    l.backward()
                trainer.step(1)
                step, seen = step + 1, seen + batch[0].shape[0]
                for key, values in (('mlm_loss', mlm_ls), ('nsp_loss', nsp_ls)):
                    value = sum(float(v) for v in values) / len(values)
                    sums[key] += value
                    totals[key] += value
                if step % log_interval == 0 or step == num_steps:
                    interval = (step - 1) % log_interval + 1
                    record = dict(step=step, time=time.perf_counter() - start,
                                  pairs_per_sec=seen / (time.perf_counter() - start))
                    for key in LOSS_KEYS:
                        record[key] = sums[key] / interval
                        record[key + '_running'] = totals[key] / step
                        sums[key] = 0.0
                    if step % eval_interval == 0 or step == num_steps:
                        record.update(_validation(net, loss, config.vocab_size, valid_arrays,
                                                  d2l, devices))
                    records.append(record)
                    log.write(dumps_json(record) + '\n')
                    log.flush()
                    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                      for k, v in record.items()}), flush=True)
                if step == num_steps:
                    break
    return records


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-dir', required=True, help='extracted wikitext-2 folder')
    p.add_argument('--output', required=True, help='folder for metrics.jsonl')
    p.add_argument('--num-steps', type=int, default=300)
    p.add_argument('--lr', type=float, default=0.01, help="Adam's lr (the chapter's: 0.01)")
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--max-len', type=int, default=128)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--log-interval', type=int, default=50)
    p.add_argument('--eval-interval', type=int, default=50)
    p.add_argument('--eval-pairs', type=int, default=500)
    a = p.parse_args(argv)
    chapter_curve(a.data_dir, a.num_steps, a.output, lr=a.lr, batch_size=a.batch_size,
                  max_len=a.max_len, seed=a.seed, log_interval=a.log_interval,
                  eval_interval=a.eval_interval, eval_pairs=a.eval_pairs)


if __name__ == '__main__':
    main()
