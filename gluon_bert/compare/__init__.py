"""The PyTorch version of the model and the side-by-side comparison harness."""
