"""Evaluate a fine-tuned classifier on an NLI file (or a file of its task): accuracy, per-class
precision/recall/F1, confusion matrix and MCC.

    gluon-bert evaluate --model runs/finetune --data test.tsv [--json report.json]
"""
import argparse

from gluon_bert.cli import at_least, max_len_type
from gluon_bert.inference import evaluate_file


def evaluate_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True, help='fine-tuning output folder')
    p.add_argument('--data', required=True, help='SNLI file (official, simple TSV or JSONL); '
                   'for a finetune-task classifier, a file with the columns of its task.json')
    p.add_argument('--json', help='where to write the report (default: MODEL/eval_<data>.json)')
    p.add_argument('--max-len', type=max_len_type(), default=128)
    p.add_argument('--batch-size', type=at_least(1), default=512)
    p.add_argument('--ctx', default='cpu')
    p.add_argument('--label-map', choices=('chapter', 'glue'), default='chapter',
                   help="numeric labels: 'chapter' 0 entailment, 1 contradiction, 2 neutral; "
                   "'glue' 0 entailment, 1 neutral, 2 contradiction, -1 no gold label")
    a = p.parse_args(argv)
    evaluate_file(a.model, a.data, json_path=a.json, max_len=a.max_len,
                  batch_size=a.batch_size, ctx=a.ctx, label_map=a.label_map)
