"""Data: download, WikiText-2 pretraining examples, SNLI, the synthetic corpus and
task, and batching."""
