"""`python scripts/predict.py ARGS` is `gluon-bert predict ARGS` (gluon_bert.cli.predict_main);
`--help` lists the options."""
from gluon_bert.cli import predict_main

if __name__ == '__main__':
    predict_main()
