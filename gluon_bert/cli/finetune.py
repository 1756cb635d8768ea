"""Fine-tune a pretrained BERT on SNLI (3 classes: entailment, contradiction, neutral).

    python scripts/finetune_snli.py                      # runs/pretrain -> SNLI train/test
    python scripts/finetune_snli.py --train-file A.tsv --test-file B.tsv
    python scripts/finetune_snli.py --dataset synthetic  # offline demo
"""
import argparse

from gluon_bert.train.jobs import run_finetuning
from gluon_bert.train.devices import add_scale_out_arguments, scale_out_kwargs, BATCH_SIZE_HELP


def finetune_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pretrained', '--init', dest='pretrained', default='runs/pretrain',
                   help='pretraining output folder, hf:PATH, gluonnlp:NAME or minilm')
    p.add_argument('--dataset', choices=['snli', 'synthetic'], default='snli')
    p.add_argument('--data-dir', help='extracted snli_1.0 folder, its zip, or a folder holding either')
    p.add_argument('--train-file', help='SNLI file (official 14-column TSV, simple TSV or JSONL)')
    p.add_argument('--test-file')
    p.add_argument('--max-train-examples', type=int, help='use only the first N training pairs')
    p.add_argument('--max-test-examples', type=int)
    p.add_argument('--max-len', type=int, default=128)
    p.add_argument('--batch-size', type=int, default=512, help=BATCH_SIZE_HELP)
    p.add_argument('--num-epochs', type=int, default=5)
    p.add_argument('--lr', type=float, default=1e-4)
    p.add_argument('--head', choices=['hidden', 'mlp'], default=None,
                   help="classifier head: the pretrained tanh 'hidden' + Dense(3) (default) "
                   "or 'mlp': Dense(256, relu) + Dense(3)")
    p.add_argument('--bucket', type=int, default=0,
                   help='N > 0: batches from N length buckets (GluonNLP FixedBucketSampler), '
                   'much faster (see BENCHMARKS.md); 0: shuffled batches, as the chapter. '
                   'Either way a batch is padded only to its longest pair')
    p.add_argument('--num-workers', type=int, default=None, help='preprocessing processes')
    p.add_argument('--ctx', default='cpu', help="devices: cpu, cpu:0,cpu:1, gpu:0,1")
    add_scale_out_arguments(p)
    p.add_argument('--weight-decay', type=float, default=0.0,
                   help='decoupled weight decay (AdamW), not on biases and LayerNorm')
    p.add_argument('--warmup-ratio', type=float, default=0.0,
                   help='fraction of the steps with a linear lr warmup (then linear decay)')
    p.add_argument('--lr-schedule', choices=['auto', 'constant', 'linear'], default='auto',
                   help="'linear': decay to 0 at the last step; 'auto': linear with a warmup, "
                   "else constant")
    p.add_argument('--head-lr', type=float, default=None,
                   help='learning rate of the new output layer (default: --lr)')
    p.add_argument('--freeze-embeddings', action='store_true',
                   help='do not train the token, segment and position embeddings')
    p.add_argument('--freeze-layers', type=lambda s: [int(i) for i in s.split(',') if i.strip()],
                   default=[], help='encoder blocks not to train, e.g. 0,1,2')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--output', default='runs/finetune')
    p.add_argument('--overwrite', action='store_true')
    p.add_argument('--no-progress', action='store_true')
    a = p.parse_args(argv)
    run_finetuning(a.output, pretrained=a.pretrained, dataset=a.dataset, data_dir=a.data_dir,
                   train_file=a.train_file, test_file=a.test_file,
                   max_train_examples=a.max_train_examples, max_test_examples=a.max_test_examples,
                   max_len=a.max_len, batch_size=a.batch_size, num_epochs=a.num_epochs, lr=a.lr,
                   ctx=a.ctx, seed=a.seed, overwrite=a.overwrite, head=a.head,
                   num_workers=a.num_workers, bucket=a.bucket, progress=not a.no_progress,
                   weight_decay=a.weight_decay, warmup_ratio=a.warmup_ratio,
                   head_lr=a.head_lr, freeze_embeddings=a.freeze_embeddings,
                   freeze_layers=a.freeze_layers, lr_schedule=a.lr_schedule,
                   **scale_out_kwargs(a))
