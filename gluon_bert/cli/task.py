"""Fine-tune a pretrained BERT on any labelled sentence or sentence-pair file.

    gluon-bert finetune-task --train-file train.tsv --test-file dev.tsv --text-columns sentence
    gluon-bert finetune-task --train-file train.jsonl --test-file dev.jsonl \\
        --text-columns question,sentence --label-column label --labels no,yes

A file is a TSV with a header row naming its columns, or JSON lines.  The
classes are the training file's labels, sorted (numerically if all are
integers), or --labels in class-id order.  The output folder holds the
classifier, task.json (classes and columns), metrics.json and metrics.jsonl
(accuracy, macro-F1 and MCC on the test file); `gluon-bert evaluate` and
`gluon-bert predict` use it.
"""
from gluon_bert.train.options import TaskArgs, parse_args
from gluon_bert.train.tasks import run_task_finetuning


def task_main(argv=None):
    return run_task_finetuning(parse_args(TaskArgs, argv, description=__doc__))
