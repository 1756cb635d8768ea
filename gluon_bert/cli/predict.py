"""Predict the relation of a premise and a hypothesis (or, with a classifier
of single sentences from `gluon-bert finetune-task`, the class of one sentence).

    gluon-bert predict --model runs/finetune "a man plays a guitar" "a man makes music"
    gluon-bert predict --model runs/cola "the book was read by me"
"""
import argparse

from gluon_bert.inference import predict_text


def predict_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True, help='fine-tuning output folder')
    p.add_argument('premise')
    p.add_argument('hypothesis', nargs='?', help='the second text (sentence-pair classifiers)')
    p.add_argument('--max-len', type=int, default=128)
    p.add_argument('--ctx', default='cpu')
    a = p.parse_args(argv)
    predict_text(a.model, a.premise, a.hypothesis, max_len=a.max_len, ctx=a.ctx)
