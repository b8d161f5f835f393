"""The `deid` stage: one hospital's delivery to de-identified DICOM, an audit and a quarantine.

- `source`: read a file and check it is a convertible radiograph (quarantine reason codes);
- `header`: PS3.15 Annex E actions on every attribute at every depth (`neovert.annex_e`);
- `clinical`: the clinical sheet's GA/BW groups and postnatal age at exam;
- `folder`: the parallel walk over a delivery, case numbering, tables and the private map.
Burned-in text is found and masked by `neovert.burned_in`; keys live in `neovert.pseudonym`.
"""

from pathlib import Path

from neovert.deid.clinical import CLINICAL_COLUMNS, bw_group, ga_group
from neovert.deid.folder import STAGE_VERSION, deid_folder
from neovert.deid.source import REASONS, Quarantine

__all__ = ["CLINICAL_COLUMNS", "REASONS", "STAGE_VERSION", "Quarantine", "bw_group", "deid_folder",
           "deid_hospital", "ga_group"]


def deid_hospital(delivery: Path, hospital: str, key: bytes, out_dir: Path, map_file: Path,
                  workers: int = 1, annotation_format: str = "labelme") -> dict[str, int]:
    """The workflow's layout: delivery/{dicom/, annotations/, clinical.csv}."""
    delivery = Path(delivery)
    return deid_folder(delivery / "dicom", out_dir, key, delivery / "clinical.csv", map_file, hospital,
                       annotations=delivery / "annotations", workers=workers, annotation_format=annotation_format)
