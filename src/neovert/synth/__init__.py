"""Synthetic demo cohort: neonatal AP chest radiographs from 11 simulated hospitals.

Stands in for the private cohort of the paper so the whole workflow runs on a laptop.
`generate_cohort(out, scale=..., seed=..., per_hospital=..., workers=...)` writes::

    out/cohort.json                     parameters, generator version, images per hospital
    out/H01/clinical.csv                patient_key,image_file (relative to dicom/),ga_weeks,bw_grams,sex,tube,
                                        family_id (the mother's MRN; twins share it)
                                        + hard_rotation,hard_lordotic,hard_11_ribs,hard_babygram (0/1)
    out/H01/burned_in.csv               image_file,kind (marker/technique/phi),text (markers only),x0,y0,x1,y1:
                                        the console text burned into the pixels
    out/H01/dicom/IMG00001.dcm          CR or DX with realistic PHI (for the deid stage)
    out/H01/annotations/IMG00001.json   LabelMe polygons: T1, T7, T12 (4 corners) and 2 x lung
    out/H02/ ... out/H11/

Module map: cohort (Table 1 quotas, patients, twins), identity (PHI values), profiles (vendors),
anatomy (body in mm), devices (tubes and catheters), framing (rotation, spacing, field of
view), render (attenuation map), imaging (detector and processing), burned_text (markers and
PHI labels in the pixels), dicom, labels,
hard_cases (flags for separate reporting), generate (files), seeds (random streams);
baseline (the mean-position check) and contact_sheet (`neovert synth-sheet`) look at a cohort.
"""

from neovert.synth.generate import GENERATOR_VERSION, generate_cohort

# The workflow's rerun trigger (common.smk `stage_version`): a new generator version redraws
# the demo cohort and everything after it.
STAGE_VERSION = GENERATOR_VERSION

__all__ = ["STAGE_VERSION", "generate_cohort"]
