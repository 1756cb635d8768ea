"""Convert a pretrained BERT into a gluon_bert model folder (`model.params`,
`config.json`, `vocab.txt`, `tokenizer.json`), usable everywhere a pretraining
output folder is (e.g. `finetune_snli.py --init FOLDER`).

    python scripts/convert_checkpoint.py --init minilm --output runs/minilm
    python scripts/convert_checkpoint.py --init hf:/path/to/bert-base-uncased --output runs/bert-base
    python scripts/convert_checkpoint.py --init gluonnlp:bert_12_768_12 --output runs/gluonnlp-base
"""
import argparse
import os

import _path  # noqa: F401
from gluon_bert.model import folders as checkpoint
from gluon_bert.pretrained import load_pretrained


def main(argv=None):
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


if __name__ == '__main__':
    main()
