"""Why a check failed: :func:`~conformance.diagnosis.diagnose.run` checks one implementation on one
problem and reads the failures against the signatures of known bugs (signatures/), turning each into
a ``likely cause: ...`` line. evidence.py holds what a diagnosis looks at and says; multiples.py the
"off by a constant factor" reading; perturb.py the small wrong variants of the reference that the
signatures test their guesses with.
"""
