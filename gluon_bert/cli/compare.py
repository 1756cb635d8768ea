"""Fine-tune the same BERT classifier in MXNet/Gluon and in PyTorch and compare
test accuracy, final train loss, training speed and peak memory.

Both start from the same weights (the Gluon classifier copied into the PyTorch
twin of gluon_bert.compare.torch_twin), see the same batches in the same order and use
the same hyperparameters; each framework runs in its own process.

    gluon-bert compare --pretrained runs/pretrain
    gluon-bert compare --pretrained synthetic --dataset synthetic --num-epochs 1
    gluon-bert compare --pretrained synthetic \\
        --train-file train.tsv --test-file test.tsv --json compare.json
"""
import argparse
import sys

from gluon_bert.cli import max_len_type
from gluon_bert.compare import harness as compare
from gluon_bert.fileio import write_json_atomic
from gluon_bert.system import usable_cpus


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pretrained', default='runs/pretrain',
                   help="pretraining output folder (or hf:PATH, gluonnlp:NAME, minilm), or "
                   "'synthetic': a fresh randomly initialised model (--preset) whose "
                   "vocabulary is built from the training data")
    p.add_argument('--preset', default='bert.small',
                   help="model size for --pretrained synthetic (default: bert.small)")
    p.add_argument('--min-freq', type=int, default=5,
                   help='vocabulary min_freq for --pretrained synthetic')
    p.add_argument('--dataset', choices=['snli', 'synthetic'], default='snli')
    p.add_argument('--data-dir', help='extracted snli_1.0 folder (for --dataset snli)')
    p.add_argument('--train-file', help='SNLI file (official TSV, simple TSV or JSONL)')
    p.add_argument('--test-file')
    p.add_argument('--label-map', choices=('chapter', 'glue'), default='chapter',
                   help='how numeric labels are read (see gluon-bert finetune --help)')
    p.add_argument('--synthetic-pairs', type=int, nargs=2, default=(6000, 1000),
                   metavar=('TRAIN', 'TEST'), help='sizes of the synthetic task')
    p.add_argument('--max-train-examples', type=int, help='use only the first N training pairs')
    p.add_argument('--max-test-examples', type=int)
    p.add_argument('--max-len', type=max_len_type(), default=128)
    p.add_argument('--batch-size', type=int, default=512)
    p.add_argument('--num-epochs', '--epochs', dest='num_epochs', type=int, default=5)
    p.add_argument('--lr', type=float, default=1e-4)
    p.add_argument('--dropout', type=float, default=None,
                   help="dropout of both models (default: the pretrained model's)")
    p.add_argument('--head', choices=['hidden', 'mlp'], default=None)
    p.add_argument('--threads', type=int, default=None,
                   help='threads of each framework (default: all cores, %d here)'
                   % usable_cpus())
    p.add_argument('--torch-pad', choices=list(compare.TORCH_PAD), default='batch',
                   help="PyTorch batches padded like gluon_bert's ('batch', default) or to "
                   "max_len as the chapter's PyTorch code ('max_len')")
    p.add_argument('--no-hybridize', action='store_true', help='run Gluon imperatively')
    p.add_argument('--frameworks', default='gluon,torch',
                   help='comma-separated subset of gluon,torch')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-workers', type=int, default=None, help='preprocessing processes')
    p.add_argument('--json', help='write the settings and results to this JSON file')
    p.add_argument('--workdir', help='keep the job folder (weights, data, results) here')
    a = p.parse_args(argv)
    if bool(a.train_file) != bool(a.test_file):
        p.error('give both --train-file and --test-file')
    if a.threads is not None and a.threads < 1:
        p.error('--threads must be at least 1')
    return a


def compare_main(argv=None):
    a = parse_args(argv)
    from gluon_bert.train.jobs import load_nli_data
    from gluon_bert.train.options import FinetuneArgs
    train_raw, test_raw = load_nli_data(FinetuneArgs(
        dataset=a.dataset, data_dir=a.data_dir, train_file=a.train_file,
        test_file=a.test_file, label_map=a.label_map, seed=a.seed,
        synthetic_pairs=list(a.synthetic_pairs),
        max_train_examples=a.max_train_examples, max_test_examples=a.max_test_examples))
    name = ('%s + %s' % (a.train_file, a.test_file) if a.train_file
            else 'synthetic NLI' if a.dataset == 'synthetic' else 'SNLI train + test')
    report = compare.run_comparison(
        a.pretrained, train_raw, test_raw,
        frameworks=[f.strip() for f in a.frameworks.split(',') if f.strip()],
        workdir=a.workdir, max_len=a.max_len, batch_size=a.batch_size, num_epochs=a.num_epochs,
        lr=a.lr, seed=a.seed, dropout=a.dropout, preset=a.preset, min_freq=a.min_freq,
        head=a.head, torch_pad=a.torch_pad, threads=a.threads, hybridize=not a.no_hybridize,
        num_workers=a.num_workers, dataset_name=name)
    print(compare.format_table(report))
    if a.json:
        write_json_atomic(a.json, report)
        print('wrote %s' % a.json, file=sys.stderr)
    return report
