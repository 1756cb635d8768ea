"""Fine-tuning BERT for natural language inference (SNLI), the chapter's
`train_ch13` with `split_and_load` and `trainer.step(..., ignore_stale_grad=True)`,
as a job of the shared loop (`gluon_bert.train.loop`)."""
import mxnet as mx
from mxnet import gluon

from gluon_bert.data.batching import split_and_load, nli_batch, packing_shards
from gluon_bert.evaluation import task_metrics
from gluon_bert.inference import evaluate_accuracy, predict_logits
from gluon_bert.train.devices import setup_kvstore
from gluon_bert.train.loop import Job, train

__all__ = ['finetune', 'FinetuneJob']


class FinetuneJob(Job):
    """`args.num_epochs` passes over an SNLIBERTDataset (or any holder of its
    arrays); after each, a record with the epoch's training loss and accuracy
    (over exactly the examples seen), and the accuracy on `test_set` (with
    `all_metrics`, also its macro-F1 and MCC: `test_macro_f1`, `test_mcc`)."""
    name = 'finetune'
    metric_names = ('loss_sum', 'correct')
    shown = ('train_loss', 'train_acc', 'test_acc')
    ignore_stale_grad = True

    def __init__(self, net, train_set, test_set, ctxs, args, cluster, on_epoch_end=None,
                 all_metrics=False):
        super().__init__(train_set, args)
        self.all_metrics = all_metrics
        self.net, self.test_set, self.ctxs, self.on_epoch_end = net, test_set, ctxs, on_epoch_end
        self.is_root, self.num_workers = cluster.is_root, cluster.num_workers
        self.loss = gluon.loss.SoftmaxCrossEntropyLoss()

    def num_steps(self):
        return self.args.num_epochs * self.steps_per_pass()

    def finished(self, step, passes):
        return passes >= self.args.num_epochs

    def forward(self, net, micro, batch):
        batch = nli_batch(self.data, micro)
        shards = split_and_load(batch, self.ctxs)
        if self.args.pack:      # the encoder on the real tokens only (model.packing)
            packed = self.packed(net)
            outs = [(packed(t, s, v, *p), y) for (t, s, v, y), p in
                    zip(shards, packing_shards(batch[2], batch[0].shape[1], self.ctxs))]
        else:
            outs = [(net(t, s, v), y) for t, s, v, y in shards]
        ls = [self.loss(y_hat, y) for y_hat, y in outs]
        first = self.ctxs[0]
        loss_sum = mx.nd.add_n(*[l.sum().as_in_context(first) for l in ls])
        correct = mx.nd.add_n(*[(y_hat.argmax(axis=1) == y.astype('float32')).sum()
                                .as_in_context(first) for y_hat, y in outs])
        return ls, [loss_sum.reshape((1,)), correct.reshape((1,))]

    def log_due(self, step, end_of_pass, finished):
        return end_of_pass

    def record(self, sums, num_steps, num_examples, progress):
        train_loss = float(sums[0]) / num_examples
        train_acc = float(sums[1]) / num_examples
        # In a distributed job rank 0 evaluates (every worker holds the same model).
        test_acc, more = None, {}
        if self.test_set is not None and self.is_root:
            if self.all_metrics and len(self.test_set):
                logits = predict_logits(self.net, self.test_set, self.ctxs)
                m = task_metrics(self.test_set.labels, logits.argmax(axis=1), logits.shape[1])
                test_acc, more = m['accuracy'], dict(test_macro_f1=m['macro_f1'],
                                                     test_mcc=m['mcc'])
            else:
                test_acc = evaluate_accuracy(self.net, self.test_set, self.ctxs)
        record = dict(epoch=progress['epoch'], train_loss=train_loss, train_acc=train_acc,
                      test_acc=test_acc, **more,
                      examples_per_sec=progress['examples'] / progress['seconds'],
                      train_seconds=progress['seconds'])
        if self.args.progress and self.is_root:
            print('epoch %d: loss %.3f, train acc %.3f, test acc %s%s'
                  % (record['epoch'], train_loss, train_acc,
                     'n/a' if test_acc is None else '%.3f' % test_acc,
                     ''.join(', test %s %.3f' % (name, more[key]) for key, name in
                             (('test_macro_f1', 'macro-F1'), ('test_mcc', 'MCC'))
                             if key in more)), flush=True)
        if self.on_epoch_end is not None:
            self.on_epoch_end(record)
        return record

    def train_loss(self, record):
        return record['train_loss']

    def where(self, record):
        return 'epoch %d' % record['epoch']

    def summary(self, records, progress):
        return dict(records[-1], num_train_examples=len(self.data),
                    num_test_examples=0 if self.test_set is None else len(self.test_set),
                    devices=[str(c) for c in self.ctxs], records=records,
                    steps=progress['step'], num_workers=self.num_workers)


def finetune(net, train_set, test_set, ctxs, args, cluster=None, trainer=None,
             checkpoint_dir=None, metrics_path=None, hybridize=True, on_epoch_end=None,
             all_metrics=False):
    """Fine-tune `net` (a BERTClassifier with initialized parameters) on
    `train_set` with the run options `args` (a `FinetuneArgs`), evaluating on
    `test_set` (or None) after every epoch.  Returns a summary with the chapter's
    numbers: train loss, train acc, test acc, examples/sec.  `cluster`,
    `trainer`, `checkpoint_dir`, `metrics_path`: see `gluon_bert.train.loop.train`;
    `on_epoch_end(record)` is called after each epoch; `all_metrics`: records
    with the test set's macro-F1 and MCC too."""
    cluster = setup_kvstore(args.kvstore if cluster is None else cluster)
    job = FinetuneJob(net, train_set, test_set, ctxs, args, cluster, on_epoch_end,
                      all_metrics)
    return train(net, job, ctxs, args, cluster=cluster, trainer=trainer,
                 checkpoint_dir=checkpoint_dir, metrics_path=metrics_path,
                 hybridize=hybridize)
