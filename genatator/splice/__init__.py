"""Splice-site classification: site extraction, models, training, scoring and evaluation."""
