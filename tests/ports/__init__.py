"""The PyTorch and JAX ports (and the Flax template, the data-parallel versions): what the matrix does not
check, and every entry point's bad-input validation."""
