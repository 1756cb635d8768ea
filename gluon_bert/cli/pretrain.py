"""Pretrain BERT on WikiText-2 (masked LM + next sentence prediction).

    python scripts/pretrain.py                         # WikiText-2, the chapter's settings
    python scripts/pretrain.py --data-dir ../shared/data/wikitext-2
    python scripts/pretrain.py --dataset synthetic --num-steps 300   # offline demo
"""
import argparse

from gluon_bert.model.config import PRESETS
from gluon_bert.train.jobs import run_pretraining
from gluon_bert.train.devices import add_scale_out_arguments, scale_out_kwargs, BATCH_SIZE_HELP


def pretrain_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', choices=['wikitext-2', 'synthetic'], default='wikitext-2')
    p.add_argument('--data-dir', help='extracted wikitext-2 folder, its zip, or a folder holding either '
                   '(default: download into ~/.gluon_bert/datasets)')
    p.add_argument('--preset', choices=sorted(PRESETS), default='d2l.pretrain')
    p.add_argument('--num-steps', type=int, default=4000)
    p.add_argument('--batch-size', type=int, default=256, help=BATCH_SIZE_HELP)
    p.add_argument('--max-len', type=int, default=128)
    p.add_argument('--lr', type=float, default=0.01)
    p.add_argument('--bucket', type=int, default=0,
                   help='N > 0: batches from N length buckets (GluonNLP FixedBucketSampler), '
                   'much faster (see BENCHMARKS.md); 0: shuffled batches, as the chapter. '
                   'Either way a batch is padded only to its longest pair')
    p.add_argument('--ctx', default='cpu', help="devices: cpu, cpu:0,cpu:1, gpu:0,1")
    add_scale_out_arguments(p)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--output', default='runs/pretrain')
    p.add_argument('--overwrite', action='store_true', help='replace a finished run in --output')
    p.add_argument('--log-interval', type=int, default=50)
    p.add_argument('--synthetic-paragraphs', type=int, default=2000)
    p.add_argument('--no-progress', action='store_true')
    a = p.parse_args(argv)
    run_pretraining(a.output, dataset=a.dataset, data_dir=a.data_dir, preset=a.preset,
                    num_steps=a.num_steps, batch_size=a.batch_size, max_len=a.max_len,
                    lr=a.lr, ctx=a.ctx, seed=a.seed, overwrite=a.overwrite,
                    log_interval=a.log_interval, progress=not a.no_progress,
                    synthetic_paragraphs=a.synthetic_paragraphs, bucket=a.bucket,
                    **scale_out_kwargs(a))
