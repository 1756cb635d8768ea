"""`python scripts/convert_checkpoint.py ARGS` is `gluon-bert convert ARGS` (gluon_bert.cli.convert_main);
`--help` lists the options."""
from gluon_bert.cli import convert_main

if __name__ == '__main__':
    convert_main()
