"""The chapter's training functions: `d2l.train_bert` on gluon_bert's
pretraining loop, `d2l.train_ch13` (with `train_batch_ch13`,
`evaluate_accuracy_gpus` and `accuracy`) for the chapter's fine-tuning."""
import mxnet as mx
from mxnet import autograd, gluon
from mxnet.util import np_array, np_shape

from gluon_bert.chapter.animator import Animator, in_notebook
from gluon_bert.chapter.data import PretrainingBatches, split_batch, try_all_gpus
from gluon_bert.model.bert import BERTModel
from gluon_bert.train.logs import Timer
from gluon_bert.train.options import PretrainArgs
from gluon_bert.train.pretrain import pretrain

__all__ = ['train_bert', 'accuracy', 'evaluate_accuracy_gpus', 'train_batch_ch13', 'train_ch13']


def _devices(ctx):
    return list(ctx) if isinstance(ctx, (list, tuple)) else [ctx]


def _copy_parameters(src, dst):
    """The values of `src`'s parameters into `dst`'s (same structure), each
    array as the kind (`mx.np` or `mx.nd`) of the one it replaces."""
    targets = dst._collect_params_with_prefix()
    for name, param in src._collect_params_with_prefix().items():
        value = param.data(param.list_ctx()[0])
        is_np = isinstance(targets[name].list_data()[0], mx.np.ndarray)
        targets[name].set_data(value.as_np_ndarray() if is_np else value.as_nd_ndarray())


def _check_pretraining(train_iter, net, loss, vocab_size):
    if not isinstance(train_iter, PretrainingBatches):
        raise TypeError('train_bert takes the train_iter of load_data_wiki, not %s'
                        % type(train_iter).__name__)
    if not isinstance(net, BERTModel):
        raise TypeError('train_bert takes a BERTModel, not %s' % type(net).__name__)
    if not isinstance(loss, gluon.loss.SoftmaxCrossEntropyLoss):
        raise TypeError('train_bert computes the chapter\'s softmax cross-entropy losses; '
                        'pass gluon.loss.SoftmaxCELoss(), not %s' % type(loss).__name__)
    sizes = (vocab_size, net.config.vocab_size, len(train_iter.dataset.vocab))
    if len(set(sizes)) != 1:
        raise ValueError('vocab_size %d, the model\'s vocabulary %d and the data\'s %d '
                         'differ' % sizes)


def train_bert(train_iter, net, loss, vocab_size, ctx, log_interval, num_steps):
    """Pretrain `net` (an initialized `BERTModel`) for `num_steps` steps on the
    batches of `train_iter` (from `load_data_wiki`) over the devices `ctx`, as
    the chapter does: the MLM loss (the weighted mean over the predicted
    positions) plus the NSP loss (the mean), Adam at lr 1e-3, constant,
    `trainer.step(1)`.  The steps run in gluon_bert's pretraining loop
    (`gluon_bert.train.pretrain`: batches padded to their longest pair, the
    encoder on the real tokens only, hybridized) on a copy of `net`,
    whose parameters are then copied into `net`.  Prints the running means of
    both losses over all steps and the speed; in a notebook it also plots the
    running means every `log_interval` steps."""
    _check_pretraining(train_iter, net, loss, vocab_size)
    ctxs = _devices(ctx)
    args = PretrainArgs(batch_size=train_iter.batch_size, num_steps=num_steps, lr=1e-3,
                        log_interval=log_interval, eval_interval=0, progress=False)
    # The loop computes with MXNet's legacy arrays.
    with np_array(False), np_shape(False):
        twin = BERTModel(net.config)
        twin.initialize(ctx=ctxs)
        _copy_parameters(net, twin)
        summary = pretrain(twin, train_iter.dataset, ctxs, args)
    _copy_parameters(twin, net)
    animator = Animator(xlabel='step', ylabel='loss', xlim=[1, num_steps],
                        legend=['mlm', 'nsp'])
    for record in summary['records']:
        if record['step'] % log_interval == 0:
            animator.add(record['step'], (record['mlm_loss_running'],
                                          record['nsp_loss_running']), draw=False)
    if in_notebook():
        animator.show()
    print('MLM loss %.3f, NSP loss %.3f'
          % (summary['mlm_loss_running'], summary['nsp_loss_running']))
    print('%.1f sentence pairs/sec on %s' % (summary['pairs_per_sec'], ctx))


def accuracy(y_hat, y):
    """The number of predictions `y_hat` (scores, or classes) equal to `y`."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    return float((y_hat.astype('float32') == y.astype('float32')).sum())


def evaluate_accuracy_gpus(net, data_iter, split_f=split_batch):
    """The accuracy of `net` on the batches of `data_iter`, each split over the
    devices of `net`'s parameters by `split_f`."""
    ctx = list(net.collect_params().values())[0].list_ctx()
    correct, total = 0.0, 0
    for features, labels in data_iter:
        X_shards, y_shards = split_f(features, labels, ctx)
        correct += sum(accuracy(net(X), y) for X, y in zip(X_shards, y_shards))
        total += labels.size
    return correct / total if total else float('nan')


def train_batch_ch13(net, features, labels, loss, trainer, ctx_list, split_f=split_batch):
    """One step on a batch split over `ctx_list`; parameters without a gradient
    (the pretraining heads of a fine-tuned BERT) are left alone
    (`ignore_stale_grad=True`).  Returns the batch's summed loss and its number
    of correct predictions."""
    X_shards, y_shards = split_f(features, labels, ctx_list)
    with autograd.record():
        pred_shards = [net(X) for X in X_shards]
        ls = [loss(pred, y) for pred, y in zip(pred_shards, y_shards)]
    for l in ls:
        l.backward()
    trainer.step(labels.shape[0], ignore_stale_grad=True)
    return (sum(float(l.sum()) for l in ls),
            sum(accuracy(pred, y) for pred, y in zip(pred_shards, y_shards)))


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, ctx_list=None,
               split_f=split_batch):
    """Train `net` for `num_epochs` passes over `train_iter` on the devices
    `ctx_list` (default: every GPU, or the CPU) and print the last epoch's mean
    loss and accuracy, the test accuracy and the speed; in a notebook it also
    plots them."""
    ctx_list = ctx_list or try_all_gpus()
    num_batches, timer = len(train_iter), Timer()
    animator = Animator(xlabel='epoch', xlim=[0, num_epochs], ylim=[0, 1],
                        legend=['train loss', 'train acc', 'test acc'])
    for epoch in range(num_epochs):
        loss_sum, correct, count = 0.0, 0.0, 0
        for i, (features, labels) in enumerate(train_iter):
            timer.start()
            l, acc = train_batch_ch13(net, features, labels, loss, trainer, ctx_list, split_f)
            timer.stop()
            loss_sum, correct, count = loss_sum + l, correct + acc, count + labels.shape[0]
            if (i + 1) % max(1, num_batches // 5) == 0:
                animator.add(epoch + (i + 1) / num_batches,
                             (loss_sum / count, correct / count, None))
        if not count:
            raise ValueError('train_iter has no batches')
        test_acc = evaluate_accuracy_gpus(net, test_iter, split_f)
        animator.add(epoch + 1, (None, None, test_acc))
    print('loss %.3f, train acc %.3f, test acc %.3f'
          % (loss_sum / count, correct / count, test_acc))
    print('%.1f examples/sec on %s' % (count * num_epochs / timer.total, ctx_list))
