import pandas as pd

from neovert.cli import main

from .test_split import manifest


def test_split_and_keygen_from_the_command_line(tmp_path):
    manifest(60).to_csv(tmp_path / "manifest.tsv", sep="\t", index=False)
    main(["split", "--manifest", str(tmp_path / "manifest.tsv"), "--out", str(tmp_path / "split")])
    split = pd.read_csv(tmp_path / "split" / "split.tsv", sep="\t")
    assert set(split.set) == {"train", "val", "test"} and len(split) == len(manifest(60))
    main(["keygen", str(tmp_path / "k" / "pseudonym.key")])
    main(["keygen", str(tmp_path / "k" / "pseudonym.key"), "--if-missing"])  # existing key: left alone
    assert (tmp_path / "k" / "pseudonym.key").stat().st_mode & 0o077 == 0
