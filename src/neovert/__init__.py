"""neovert: T1/T7/T12 vertebra labelling on neonatal chest radiographs, from hospital DICOM to audited tables.

One module per pipeline stage (deid, strip, rasterize, split, nnunet, postprocess, evaluate,
report) plus shared helpers (io, log, provenance). Modules take explicit arguments and never read
the workflow's config: Snakemake rules pass values in through thin adapters in workflow/scripts/.
"""

__version__ = "0.1.0"

HOSPITALS = tuple(f"H{i:02d}" for i in range(1, 12))
LABELS = {"background": 0, "lung": 1, "T1": 2, "T7": 3, "T12": 4}
# Hard films (0/1): optional clinical-sheet columns that deid carries to cases.tsv, strip and split
# pass on, and evaluate breaks results down by (by_hard_film). The demo cohort writes them; a real
# sheet has none, and they stay empty. Declared here, not in neovert.deid, so that later stages can
# read them without importing the de-identification stack.
FLAG_COLUMNS = ("hard_rotation", "hard_lordotic", "hard_11_ribs", "hard_babygram")
