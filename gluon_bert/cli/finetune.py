"""Fine-tune a pretrained BERT on SNLI (3 classes: entailment, contradiction, neutral).

    gluon-bert finetune                              # runs/pretrain -> SNLI train/test
    gluon-bert finetune --train-file A.tsv --test-file B.tsv
    gluon-bert finetune --dataset synthetic          # offline demo (its own defaults)
"""
from gluon_bert.train.jobs import run_finetuning
from gluon_bert.train.options import FinetuneArgs, parse_args


def finetune_main(argv=None):
    return run_finetuning(parse_args(FinetuneArgs, argv, description=__doc__))
