"""End to end: the teaching notebook and the generated rosetta page."""
