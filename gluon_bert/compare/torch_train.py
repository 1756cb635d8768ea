"""The plain PyTorch fine-tuning loop over the twin of `gluon_bert.compare.torch_twin`,
which `gluon_bert.compare.harness` and the benchmark run against Gluon's
`finetune`: Adam on the mean cross-entropy of numpy batches.  Imports no MXNet."""
import math
import time

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ['finetune', 'nli_loss', 'accuracy']


def _tensors(batch):
    """(tokens, segments, valid_lens, labels) numpy arrays -> tensors."""
    t, s, v, y = batch
    return (torch.from_numpy(np.ascontiguousarray(t)).long(),
            torch.from_numpy(np.ascontiguousarray(s)).long(),
            torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(y)).long())


def nli_loss(model, batch):
    """Mean cross-entropy of `model` (dropout off) on one numpy batch."""
    was_training = model.training
    model.eval()
    try:
        t, s, v, y = _tensors(batch)
        with torch.no_grad():
            return float(F.cross_entropy(model(t, s, v), y))
    finally:
        model.train(was_training)


def accuracy(model, batches):
    """Fraction of the examples of the numpy `batches` classified correctly."""
    model.eval()
    correct = count = 0
    with torch.no_grad():
        for batch in batches:
            t, s, v, y = _tensors(batch)
            correct += int((model(t, s, v).argmax(dim=1) == y).sum())
            count += len(y)
    return correct / count if count else float('nan')


def finetune(model, train_batches, test_batches=None, num_epochs=1, lr=1e-4, threads=None,
             seed=0, on_epoch_end=None):
    """Train `model` with Adam on the mean cross-entropy of the batches.

    `train_batches(epoch)` yields the numpy batches `(tokens, segments,
    valid_lens, labels)` of an epoch and `test_batches()` those of the test set.
    The clock runs over the training loops only.  Returns one record per epoch
    (`train_loss`, `train_acc` over the epoch, `test_acc`, `examples_per_sec`,
    `train_seconds`), as `gluon_bert.train.finetune.finetune`."""
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        records, train_time, num_seen = [], 0.0, 0
        for epoch in range(num_epochs):
            model.train()
            loss_sum, correct, count = 0.0, 0, 0
            start = time.perf_counter()
            for batch in train_batches(epoch):
                t, s, v, y = _tensors(batch)
                logits = model(t, s, v)
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * len(y)
                correct += int((logits.detach().argmax(dim=1) == y).sum())
                count += len(y)
            train_time += time.perf_counter() - start
            num_seen += count
            if not math.isfinite(loss_sum):
                raise FloatingPointError('non-finite training loss in epoch %d' % (epoch + 1))
            test_acc = None if test_batches is None else accuracy(model, test_batches())
            record = dict(epoch=epoch + 1, train_loss=loss_sum / count, train_acc=correct / count,
                          test_acc=test_acc, examples_per_sec=num_seen / train_time,
                          train_seconds=train_time)
            records.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record)
        return records
    finally:
        torch.set_num_threads(old_threads)
