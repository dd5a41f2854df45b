"""Known-bad implementations, the suite's own test and teaching material: dense.py (the classic
backprop bugs, one switch each), conv.py (the conv ones), recurrent.py (the backprop-through-time
ones), optimizers.py (the optimizer, schedule and clipping ones), distributed.py (the data-parallel
ones) and hostile.py (implementations that misbehave as programs: exit, hang, crash, write into their
inputs).

The dense mutants are importable from here, as a check target; the others from their module:

    python -m conformance check conformance.mutants:bp2_w_not_transposed --problems square-4-4-4-4
    python -m conformance check conformance.mutants.recurrent:time_term_forgotten --problems 'rnn-*'
"""

from conformance.mutants import dense
from conformance.mutants.dense import BUGS, Mutant

for _bug in BUGS:
    globals()[_bug] = getattr(dense, _bug)
del _bug

__all__ = ["BUGS", "Mutant", *BUGS]
