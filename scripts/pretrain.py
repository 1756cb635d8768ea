"""Pretrain BERT on WikiText-2 (masked LM + next sentence prediction).

    python scripts/pretrain.py                         # WikiText-2, the chapter's settings
    python scripts/pretrain.py --data-dir ../shared/data/wikitext-2
    python scripts/pretrain.py --dataset synthetic --num-steps 300   # offline demo
"""
import _path  # noqa: F401
from gluon_bert.train.jobs import run_pretraining
from gluon_bert.train.options import PretrainArgs, parse_args


def main(argv=None):
    return run_pretraining(parse_args(PretrainArgs, argv, description=__doc__))


if __name__ == '__main__':
    main()
