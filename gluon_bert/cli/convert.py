"""Convert a pretrained BERT into a gluon_bert model folder (`model.params`,
`config.json`, `vocab.txt`, `tokenizer.json`, `args.json`), usable everywhere a
pretraining output folder is (e.g. `gluon-bert finetune --init FOLDER`).

    gluon-bert convert --init minilm --output runs/minilm
    gluon-bert convert --init hf:/path/to/bert-base-uncased --output runs/bert-base
    gluon-bert convert --init gluonnlp:bert_12_768_12 --output runs/gluonnlp-base

Like the training jobs, it refuses a folder holding another job's results or a
converted model unless --overwrite (which replaces the folder as a whole), and
locks the folder while it writes.
"""
import argparse
import os

from gluon_bert.fileio import write_json_atomic
from gluon_bert.model import folders as checkpoint
from gluon_bert.outputs import claim_output
from gluon_bert.pretrained import load_pretrained


def convert_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--init', required=True, help='hf:PATH, minilm, gluonnlp:NAME or a model folder')
    p.add_argument('--output', required=True, help='folder to write')
    p.add_argument('--overwrite', action='store_true',
                   help='replace the folder (a converted model or another job\'s results)')
    a = p.parse_args(argv)
    pre = load_pretrained(a.init)
    with claim_output(a.output, 'convert', a.overwrite):
        write_json_atomic(os.path.join(a.output, 'args.json'),
                          dict(kind='convert', args=dict(init=a.init, output=a.output)))
        checkpoint.save_pretrained(a.output, pre.bert, pre.tokenizer)
    print('%r -> %s' % (pre, a.output))
    return pre
