"""The problems an implementation's ``supports`` declined, summarised for the terminal: one line per
implementation instead of one per problem (``-v`` lists them all)."""

from conformance.matrix import Matrix
from conformance.problems import CATALOGUE
from conformance.spec import Spec


def skip_lines(matrix: Matrix, verbose: bool = False) -> list[str]:
    """Every skip with -v; otherwise one line per implementation for the problems its ``supports``
    declined, naming the spec values that none of the problems it accepted has (a fact about the
    catalogue, not a guess at what ``supports`` tests)."""
    if verbose:
        return [f"skipped {s['impl']} / {s['problem']}: {s['reason']}" for s in matrix.skipped]
    lines: list[str] = []
    declined: dict[str, list[Spec]] = {}
    for s in matrix.skipped:
        if s["problem"] in CATALOGUE:
            declined.setdefault(s["impl"], []).append(CATALOGUE[s["problem"]].spec)
        else:
            lines.append(f"skipped {s['impl']}: {s['reason']}")
    for impl, specs in declined.items():
        ok = [CATALOGUE[o.problem].spec for o in matrix.outcomes if o.impl == impl]
        parts = []
        for f in ("activation", "output", "loss"):
            supported = {getattr(o, f) for o in ok}
            never = [v for v in dict.fromkeys(getattr(s, f) for s in specs) if v not in supported]
            if never:
                parts.append(f"{f} {', '.join(never)}")
        if any(s.weight_decay for s in specs) and not any(o.weight_decay for o in ok):
            parts.append("weight decay")
        if any(getattr(s, "conv", ()) for s in specs) and not any(getattr(o, "conv", ()) for o in ok):
            parts.append("conv layers")
        among = f"; none it accepted has {'; '.join(parts)}" if parts else ""
        lines.append(f"{len(specs)} problems skipped: {impl} does not support them{among} (-v lists them)")
    return lines
