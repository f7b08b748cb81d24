"""`kinema bench`: how fast Kinema generates on this machine, measured honestly in one run.

Modules, one job each: `machine` (what the machine is and how loaded), `peak` (its measured matmul
peak), `flops` (the stated FLOP formulas), `peer` (a same-size diffusers WanTransformer3DModel built
from a DiT config), `measure` (interleaved timing, memory, the measurements themselves), `report`
(table, plot and JSON). Rules follow shared/BENCH.md: compare only inside one process, interleaved,
medians over repetitions after warm-up, ratios rather than absolute numbers, threads pinned.
"""
