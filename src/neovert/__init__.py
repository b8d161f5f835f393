"""neovert: T1/T7/T12 vertebra labelling on neonatal chest radiographs, from hospital DICOM to audited tables.

One module per pipeline stage (deid, strip, rasterize, split, nnunet, postprocess, evaluate,
report) plus shared helpers (io, log, provenance). Modules take explicit arguments and never read
the workflow's config: Snakemake rules pass values in through thin adapters in workflow/scripts/.
"""

__version__ = "0.1.0"

HOSPITALS = tuple(f"H{i:02d}" for i in range(1, 12))
LABELS = {"background": 0, "lung": 1, "T1": 2, "T7": 3, "T12": 4}
