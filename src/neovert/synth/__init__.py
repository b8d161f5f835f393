"""Synthetic demo cohort: neonatal AP chest radiographs from 11 simulated hospitals.

Stands in for the private cohort of the paper so the whole workflow runs on a laptop.
`generate_cohort(out, scale=..., seed=..., per_hospital=..., workers=...)` writes::

    out/cohort.json                     parameters, generator version, images per hospital
    out/H01/clinical.csv                patient_key,image_file (relative to dicom/),ga_weeks,bw_grams,sex,tube
    out/H01/dicom/IMG00001.dcm          CR or DX with realistic PHI (for the deid stage)
    out/H01/annotations/IMG00001.json   LabelMe polygons: T1, T7, T12 (4 corners) and 2 x lung
    out/H02/ ... out/H11/

Module map: cohort (Table 1 quotas, patients), identity (PHI values), profiles (vendors),
anatomy (body in mm), framing (rotation, spacing, field of view), render (attenuation map),
imaging (detector and processing), dicom, labels, generate (files), seeds (random streams).
"""

from neovert.synth.generate import generate_cohort

__all__ = ["generate_cohort"]
