"""The whole chain on a tiny generated cohort (11 hospitals x 4 images), for real:
synthetic DICOM -> deid -> strip -> rasterize -> split -> nnU-Net (short CPU training) ->
predict -> postprocess -> evaluate -> report. One run, several checks on what it left."""

import gzip
import hashlib

import ahocorasick
import numpy as np
import pandas as pd
import pydicom
import pytest

from neovert import HOSPITALS
from neovert.deid.header import clean_text

from .conftest import snakemake, write_config

pytestmark = pytest.mark.e2e
CPU_STAGES = ("deid", "strip", "rasterize", "split")
TINY = {"synth": {"per_hospital": 4},
        "split": {"fractions": {"train": 1, "val": 1, "test": 1}},
        "nnunet": {"setups": {"demo": {"budget": {"epochs": 2, "iterations": 2, "val_iterations": 1}}}}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from neovert.pseudonym import create_key

    workdir = tmp_path_factory.mktemp("e2e")
    create_key(workdir / "secrets" / "pseudonym.key")
    write_config(workdir, **TINY)
    snakemake(workdir, "--cores", "2")
    return workdir


def _tree_hashes(root, stages):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for stage in stages for p in sorted((root / "results" / stage).rglob("*")) if p.is_file()}


def test_tables_have_a_row_per_hospital_and_class(run):
    evaluate = run / "results" / "evaluate"
    table3 = pd.read_csv(evaluate / "table3.tsv", sep="\t", comment="#")
    assert set(table3["class"]) == {"lung", "T1", "T7", "T12"}
    by_hospital = pd.read_csv(evaluate / "by_hospital.tsv", sep="\t", comment="#")
    assert set(zip(by_hospital.hospital, by_hospital["class"])) == {
        (h, c) for h in HOSPITALS for c in ("lung", "T1", "T7", "T12")}
    per_image = pd.read_csv(evaluate / "per_image.tsv", sep="\t", comment="#")
    split = pd.read_csv(run / "results" / "split" / "split.tsv", sep="\t")
    assert len(per_image) == 4 * (split.set == "test").sum()
    for frame in (table3, by_hospital):
        assert np.isfinite(frame[["dsc_mean", "iou_mean"]].to_numpy(float)).all()
    assert (evaluate / "table4.tsv").stat().st_size > 0
    assert "<table" in (run / "results" / "report" / "report.html").read_text()


CODES = {"CodeValue", "CodingSchemeDesignator"}  # SNOMED/DCM codes of the procedure, not PHI
PHI_KEYWORDS = {
    "PatientName", "PatientID", "IssuerOfPatientID", "OtherPatientIDsSequence", "AccessionNumber", "StudyID",
    "InstitutionName", "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName",
    "OperatorsName", "StationName", "DeviceSerialNumber", "StudyDescription", "ImageComments",
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "RequestAttributesSequence", "PerformedProcedureStepID",
}


def planted_phi(dicom_files) -> tuple[set[str], set[str]]:
    """Identifying strings (whole values, names also by component; 6+ characters) and dates planted by the
    generator: the PHI attributes, everything nested in them, and every private value."""
    tokens, dates = set(), set()

    def collect(element, inherited: bool) -> None:
        if element.tag.is_private_creator:  # a vendor's name, like Manufacturer: not PHI
            return
        planted = inherited or element.keyword in PHI_KEYWORDS or element.tag.is_private
        if element.VR == "SQ":
            for item in element.value:
                for child in item:
                    collect(child, planted)
        elif element.VR in ("DA", "DT"):
            dates.update(v for v in str(element.value).split("\\") if len(v) >= 8)
        elif planted and element.keyword not in CODES and isinstance(element.value, (str, pydicom.valuerep.PersonName)):
            text = str(element.value)  # names also by component: family, given
            if clean_text(text) == text:  # pure clinical vocabulary ("XR CHEST AP PORTABLE"): kept by design
                return
            words = text.replace("^", " ").split() if element.VR == "PN" else []
            tokens.update(t for t in [text, *words] if len(t) >= 6)

    for path in dicom_files:
        for element in pydicom.dcmread(path):
            collect(element, False)
    return tokens, dates


def first_hit(words: set[str]):
    """A function giving the first of `words` found in a byte string, or None: an Aho-Corasick
    automaton over the words' UTF-8 bytes (as Latin-1 text, one character per byte), so each file
    is read once whatever the number of words (~500 MB of checkpoints x ~900 words searched one by
    one take many minutes)."""
    automaton = ahocorasick.Automaton()
    for word in sorted(words):
        automaton.add_word(word.encode().decode("latin-1"), word)
    automaton.make_automaton()
    return lambda data: next((word for _, word in automaton.iter(data.decode("latin-1"))), None)


def test_no_planted_phi_reaches_results_or_logs(run):
    tokens, dates = planted_phi(sorted((run / "data" / "demo").glob("H*/dicom/*.dcm")))
    assert len(tokens) > 100 and dates
    token_in, date_in = first_hit(tokens), first_hit(dates)
    for tree in ("results", "logs"):
        for path in (run / tree).rglob("*"):
            assert not token_in(str(path.relative_to(run)).encode()), path
            if not path.is_file():
                continue
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            assert not token_in(data), (path, token_in(data))
            if not (path.suffix == ".dcm" and "deid" in path.parts):  # shifted dates are checked in unit tests
                assert not date_in(data), path


def test_nothing_to_do_on_rerun_and_split_forcerun_touches_only_split(run):
    assert "Nothing to be done" in snakemake(run, "-n").stdout
    forced = snakemake(run, "-n", "split", "--forcerun", "split").stdout
    assert "split" in forced and "deid_hospital" not in forced and "nnunet_train" not in forced


def test_cpu_stages_are_byte_identical_on_a_fresh_run(run, tmp_path):
    import shutil

    shutil.copytree(run / "secrets", tmp_path / "secrets")
    write_config(tmp_path, **TINY)
    snakemake(tmp_path, "--cores", "2", "split")
    assert _tree_hashes(tmp_path, CPU_STAGES) == _tree_hashes(run, CPU_STAGES)
