"""The harness core: checks, comparison, structure, coverage, golden vectors, hostile implementations,
the pytest plugin, the import layout."""
