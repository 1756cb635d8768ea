"""The benchmarks of gluon_bert (`run.py`) and the job modules it runs."""
