"""Predict the relation of a premise and a hypothesis (or, with a classifier of
single sentences from `gluon-bert finetune-task`, the class of one sentence), or
of every pair of a file.

    gluon-bert predict --model runs/finetune "a man plays a guitar" "a man makes music"
    gluon-bert predict --model runs/cola "the book was read by me"
    gluon-bert predict --model runs/finetune --file pairs.tsv --output preds.jsonl

A file is read as for training (official SNLI TSV, a TSV with a header naming
sentence1/premise and sentence2/hypothesis, or JSON lines); a label column is
not needed.  Each pair gives one JSON line: label, probabilities (by label
name), truncated (whether the pair was cut to --max-len tokens) and line (its
line in the file); without --output the lines go to stdout.
"""
import argparse

from gluon_bert.cli import at_least, max_len_type
from gluon_bert.inference import predict_file, predict_text


def predict_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True, help='fine-tuning output folder')
    p.add_argument('premise', nargs='?')
    p.add_argument('hypothesis', nargs='?', help='the second text (sentence-pair classifiers)')
    p.add_argument('--file', help='NLI file of pairs to classify (TSV or JSONL)')
    p.add_argument('--output', help='JSON-lines file of the predictions of --file '
                   '(default: stdout)')
    p.add_argument('--batch-size', type=at_least(1), default=256,
                   help='pairs per batch with --file (default: 256)')
    p.add_argument('--no-progress', dest='progress', action='store_false',
                   help='no progress bar (on stderr) with --file')
    p.add_argument('--max-len', type=max_len_type(), default=None,
                   help='longest pair in tokens (default: the max_len of the fine-tuning)')
    p.add_argument('--ctx', default='cpu')
    a = p.parse_args(argv)
    if a.file:
        if a.premise is not None:
            p.error('give either --file or a premise and a hypothesis, not both')
        return predict_file(a.model, a.file, a.output, batch_size=a.batch_size,
                            max_len=a.max_len, ctx=a.ctx, progress=a.progress)
    if a.premise is None:
        p.error('give a premise and a hypothesis (one text for a single-sentence '
                'classifier), or --file')
    if a.output:
        p.error('--output goes with --file')
    return predict_text(a.model, a.premise, a.hypothesis, max_len=a.max_len, ctx=a.ctx)
