"""`python scripts/finetune_snli.py ARGS` is `gluon-bert finetune ARGS` (gluon_bert.cli.finetune_main);
`--help` lists the options."""
from gluon_bert.cli import finetune_main

if __name__ == '__main__':
    finetune_main()
