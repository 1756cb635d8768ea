"""Convert a pretrained BERT into a gluon_bert model folder (`model.params`,
`config.json`, `vocab.txt`, `tokenizer.json`), usable everywhere a pretraining
output folder is (e.g. `gluon-bert finetune --init FOLDER`).

    gluon-bert convert --init minilm --output runs/minilm
    gluon-bert convert --init hf:/path/to/bert-base-uncased --output runs/bert-base
    gluon-bert convert --init gluonnlp:bert_12_768_12 --output runs/gluonnlp-base
"""
import argparse
import os

from gluon_bert.model import folders as checkpoint
from gluon_bert.pretrained import load_pretrained


def convert_main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--init', required=True, help='hf:PATH, minilm, gluonnlp:NAME or a model folder')
    p.add_argument('--output', required=True, help='folder to write')
    p.add_argument('--overwrite', action='store_true')
    a = p.parse_args(argv)
    if os.path.exists(os.path.join(a.output, checkpoint.MODEL_PARAMS)) and not a.overwrite:
        p.error('%s already holds a model; pass --overwrite to replace it' % a.output)
    pre = load_pretrained(a.init)
    checkpoint.save_pretrained(a.output, pre.bert, pre.tokenizer)
    print('%r -> %s' % (pre, a.output))
    return pre
