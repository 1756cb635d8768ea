"""gluon_bert's training as the comparison harness and the benchmark run it.

The one module of `gluon_bert.compare` (and of `benchmarks/`) that calls
`gluon_bert.train`: when the training functions change, only this adapter does.
It imports MXNet (through `gluon_bert.train`) only when a function is called.
"""
import numpy as np

__all__ = ['finetune_gluon', 'pretrain_steps', 'drawn_batches', 'mlm_rows']


def finetune_gluon(net, train_set, ctxs, batch_size, lr, bucket=0, num_epochs=1, seed=0,
                   test_set=None, hybridize=True, on_epoch_end=None):
    """Fine-tune `net` (a BERTClassifier with initialised parameters) with
    `gluon_bert.train.finetune.finetune` and the options `jobs.run_finetuning`
    would use (the chapter's Adam, no progress bar); `bucket` N > 0: batches
    from N length buckets.  `on_epoch_end(record)` is called after every epoch.
    Returns finetune's summary (`records`: one dict per epoch with `train_loss`,
    `train_acc`, `test_acc`, `examples_per_sec`, `train_seconds`, the last
    cumulative over the epochs)."""
    from gluon_bert.train.finetune import finetune
    from gluon_bert.train.options import FinetuneArgs
    args = FinetuneArgs(num_epochs=num_epochs, batch_size=batch_size, lr=lr, seed=seed,
                        bucket=bucket, progress=False)
    return finetune(net, train_set, test_set, ctxs, args, hybridize=hybridize,
                    on_epoch_end=on_epoch_end)


def pretrain_steps(net, dataset, ctxs, num_steps, batch_size, lr, seed=0, log_interval=50,
                   bucket=0):
    """`num_steps` steps of `gluon_bert.train.pretrain.pretrain` on `dataset` (a
    WikiTextDataset, or any object with its arrays), no progress bar.  Returns
    pretrain's summary (`seconds`; `records`: one per `log_interval` steps with
    `step`, `time` (training seconds so far), `mlm_loss`, `nsp_loss`)."""
    from gluon_bert.train.pretrain import pretrain
    from gluon_bert.train.options import PretrainArgs
    args = PretrainArgs(num_steps=num_steps, batch_size=batch_size, lr=lr, seed=seed,
                        log_interval=log_interval, bucket=bucket, progress=False)
    return pretrain(net, dataset, ctxs, args)


def drawn_batches(valid_lens, batch_size, bucket, seed, num_passes):
    """The index batches of the first `num_passes` passes over the data, as
    `finetune` and `pretrain` draw them with `seed` and `bucket`: one list per
    pass.  With `bucket`, reseeds numpy's global RNG as they do."""
    from gluon_bert.data.batching import iterate_batches, length_buckets
    rng = np.random.RandomState(seed)
    if bucket:
        np.random.seed(seed)
    return [list(iterate_batches(len(valid_lens), batch_size, True, rng,
                                 length_buckets(valid_lens, batch_size, bucket)))
            for _ in range(num_passes)]


def mlm_rows(dataset, idx):
    """Rows of the MaskLM output `pretrain` computes for the batch `idx`: its
    real (weight > 0) targets, padded as `pretrain.flatten_mlm_targets` pads them."""
    from gluon_bert.train.pretrain import flatten_mlm_targets
    _, weights, _ = flatten_mlm_targets(dataset.all_pred_positions[idx],
                                        dataset.all_mlm_weights[idx],
                                        dataset.all_mlm_labels[idx], 1)
    return len(weights)
