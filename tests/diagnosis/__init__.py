"""Diagnoses, the known-bad mutants (dense, conv, data-parallel) and the diagnosis' own perturbations."""
