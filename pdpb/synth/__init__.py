"""Synthetic data for PDPB: a province's voter list, monthly deltas and the truth.

`generate(out_dir, province, voters, periods, start, seed)` is what
`pdpb synth` calls; `generate_national(out_dir, provinces, ...)` what it calls
for several provinces (`--province 31,32,36`): the provinces' lists and
truths, one national delivery per source and the national truth. The output
layouts and every truth file are documented in docs/synth.md; ingest, linkage
evaluation, the tests and the benchmark read them.
"""

from pdpb.synth.generator import generate
from pdpb.synth.national import generate_national, parse_provinces

__all__ = ["generate", "generate_national", "parse_provinces"]
