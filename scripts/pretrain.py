"""`python scripts/pretrain.py ARGS` is `gluon-bert pretrain ARGS` (gluon_bert.cli.pretrain_main);
`--help` lists the options."""
from gluon_bert.cli import pretrain_main

if __name__ == '__main__':
    pretrain_main()
