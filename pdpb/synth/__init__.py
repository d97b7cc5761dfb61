"""Synthetic data for PDPB: a province's voter list, monthly deltas and the truth.

`generate(out_dir, province, voters, periods, start, seed)` is what
`pdpb synth` calls. The output layout and every truth file are documented in
docs/synth.md; ingest, linkage evaluation, the tests and the benchmark read it.
"""

from pdpb.synth.generator import generate

__all__ = ["generate"]
