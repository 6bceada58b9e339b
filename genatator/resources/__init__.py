"""Data files shipped inside the package (the default tokenizer)."""
