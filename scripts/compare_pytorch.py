"""`python scripts/compare_pytorch.py ARGS` is `gluon-bert compare ARGS` (gluon_bert.cli.compare_main);
`--help` lists the options."""
from gluon_bert.cli import compare_main

if __name__ == '__main__':
    compare_main()
