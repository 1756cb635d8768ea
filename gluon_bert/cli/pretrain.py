"""Pretrain BERT on WikiText-2 (masked LM + next sentence prediction).

    gluon-bert pretrain                              # WikiText-2, the chapter's settings
    gluon-bert pretrain --data-dir ../shared/data/wikitext-2
    gluon-bert pretrain --dataset synthetic          # offline demo (its own defaults)
"""
from gluon_bert.train.jobs import run_pretraining
from gluon_bert.train.options import PretrainArgs, parse_args


def pretrain_main(argv=None):
    return run_pretraining(parse_args(PretrainArgs, argv, description=__doc__))
