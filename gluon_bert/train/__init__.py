"""Training: run options, the shared loop, pretraining, fine-tuning, optimizer,
checkpoints, devices and kvstore."""
