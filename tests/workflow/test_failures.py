"""A bad delivery at one hospital: its job fails, the other hospitals' jobs still run
(--keep-going from the default profile), and logs/failures.tsv names the stage, hospital and reason."""

import pandas as pd

from neovert import HOSPITALS

from .conftest import snakemake, write_config


def test_one_hospital_fails_the_others_carry_on_and_the_summary_says_why(workdir):
    write_config(workdir, synth={"per_hospital": 2})
    snakemake(workdir, "--cores", "2", "synth")
    sheet = workdir / "data" / "demo" / "H03" / "clinical.csv"
    sheet.write_text("image_file,weight\nx.dcm,1\n")  # a sheet without the agreed columns

    result = snakemake(workdir, "--cores", "2", "deid", check=False)

    assert result.returncode != 0
    assert "Failed jobs (logs/failures.tsv)" in result.stderr
    done = {h for h in HOSPITALS if (workdir / "results" / "deid" / h / "cases.tsv").is_file()}
    assert done == set(HOSPITALS) - {"H03"}
    failures = pd.read_csv(workdir / "logs" / "failures.tsv", sep="\t")
    assert failures[["stage", "hospital", "rule"]].values.tolist() == [["deid", "H03", "deid_hospital"]]
    assert "clinical sheet lacks columns" in failures.reason[0]

    sheet.unlink()
    snakemake(workdir, "--cores", "2", "synth", "--forcerun", "synth")  # the delivery is fixed
    snakemake(workdir, "--cores", "2", "deid")
    assert not (workdir / "logs" / "failures.tsv").exists()
