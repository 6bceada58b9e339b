"""Training: data preparation, the training loop and validation metrics."""
