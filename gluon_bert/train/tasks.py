"""Fine-tuning on any labelled sentence or sentence-pair file (`TaskArgs`): the
files are read by `data.tasks.read_task_file`, the classes come from the
training file (or `--labels`), the classifier has one output per class, and the
test metrics are accuracy, macro-F1 and MCC.  The output folder is the one of
`run_finetuning` plus `task.json` (classes and columns), which `evaluate` and
`predict` read."""
from gluon_bert.data.snli import describe_reading
from gluon_bert.data.tasks import read_task_file
from gluon_bert.train.jobs import _take, finetune_classifier

__all__ = ['run_task_finetuning', 'load_task_data']


def load_task_data(args):
    """(train, test, task) of the options `args` (a `TaskArgs`); `task` holds the
    class names `labels` (class-id order) and the columns."""
    if not (args.train_file and args.test_file):
        raise ValueError('give the labelled files with --train-file and --test-file')
    train = read_task_file(args.train_file, args.text_columns, args.label_column, args.labels)
    if len(train.label_names) < 2:
        raise ValueError('%s: %d class%s (%s) in column %r: a classifier needs at least 2; '
                         'list them with --labels'
                         % (args.train_file, len(train.label_names),
                            '' if len(train.label_names) == 1 else 'es',
                            ','.join(train.label_names) or 'none', args.label_column))
    test = read_task_file(args.test_file, args.text_columns, args.label_column,
                          train.label_names)
    for data in (train, test):
        skipped = {k: v for k, v in data.skipped.items() if v}
        if skipped:
            print('%s: skipped %s' % (data.path, ', '.join(
                '%d rows (%s)' % (v, k.replace('_', ' ')) for k, v in skipped.items())),
                flush=True)
    for what, data in (('training', train), ('test', test)):
        if not len(data.labels):
            raise ValueError('the %s set has no example: %s' % (what, describe_reading(data)))
    task = dict(labels=train.label_names, text_columns=list(args.text_columns),
                label_column=args.label_column)
    return (_take(train, args.max_train_examples), _take(test, args.max_test_examples), task)


def run_task_finetuning(args):
    """Fine-tune `args.pretrained` on `args.train_file`, evaluate on
    `args.test_file` after every epoch, save into `args.output`.  Returns the
    summary (`test_acc`, `test_macro_f1`, `test_mcc`, `label_names`, ...)."""
    print('task: classes %s; text column%s %s; label column %s'
          % (','.join(args.labels) if args.labels else '(from %s)' % args.train_file,
             '' if len(args.text_columns) == 1 else 's', ','.join(args.text_columns),
             args.label_column), flush=True)
    return finetune_classifier(args, 'task', lambda: load_task_data(args))
