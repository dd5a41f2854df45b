"""The meta-tests' shared assertion: a known-bad mutant is caught by the check that names it."""


def assert_caught(runs, label, bug_text, family, quantity):
    """The mutant ``label`` failed, and a ``family`` check on ``quantity`` is among its failures,
    each such message naming the mutant and the problem; returns those named failures."""
    failures = [r for o in runs for r in o.results if not r.passed]
    assert failures, f"{label} passed every check: the suite cannot see {bug_text}"
    named = [r for r in failures if r.check == family and quantity in r.quantity]
    assert named, (f"{label} was not caught by a {family} check on {quantity}...; failures: "
                   + "; ".join(sorted({f'{r.check}:{r.quantity}' for r in failures})))
    assert all(label in r.message and r.problem in r.message for r in named)
    return named
