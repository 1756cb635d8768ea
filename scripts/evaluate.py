"""`python scripts/evaluate.py ARGS` is `gluon-bert evaluate ARGS` (gluon_bert.cli.evaluate_main);
`--help` lists the options."""
from gluon_bert.cli import evaluate_main

if __name__ == '__main__':
    evaluate_main()
