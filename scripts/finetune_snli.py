"""Fine-tune a pretrained BERT on SNLI (3 classes: entailment, contradiction, neutral).

    python scripts/finetune_snli.py                      # runs/pretrain -> SNLI train/test
    python scripts/finetune_snli.py --train-file A.tsv --test-file B.tsv
    python scripts/finetune_snli.py --dataset synthetic  # offline demo
"""
import _path  # noqa: F401
from gluon_bert.train.jobs import run_finetuning
from gluon_bert.train.options import FinetuneArgs, parse_args


def main(argv=None):
    return run_finetuning(parse_args(FinetuneArgs, argv, description=__doc__))


if __name__ == '__main__':
    main()
