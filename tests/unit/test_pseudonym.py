import stat

import pytest

from neovert.pseudonym import Pseudonymizer, PseudonymKeyError, create_key, load_key


def test_key_is_owner_only_256_bit_and_never_overwritten(tmp_path):
    path = create_key(tmp_path / "k" / "pseudonym.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_key(path)) == 32
    with pytest.raises(FileExistsError):
        create_key(path)


def test_missing_or_exposed_key_is_refused_with_its_path(tmp_path):
    with pytest.raises(PseudonymKeyError, match="neovert keygen"):
        load_key(tmp_path / "absent.key")
    path = create_key(tmp_path / "pseudonym.key")
    path.chmod(0o644)
    with pytest.raises(PseudonymKeyError, match="readable by others"):
        load_key(path)


def test_derivations_are_keyed_stable_and_domain_separated():
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert a.patient("MRN123") == a.patient(" MRN123 ") != b.patient("MRN123")
    assert len(a.patient("MRN123")) == 10 and a.patient("MRN123") != a.patient("MRN124")
    uid = a.uid("1.2.3.4")
    assert uid.startswith("2.25.") and len(uid) <= 64 and uid == a.uid("1.2.3.4") != b.uid("1.2.3.4")
    assert 365 <= a.date_shift("MRN123").days < 1095


def test_family_pseudonyms_are_keyed_and_never_a_patient_pseudonym():
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    family = a.family("H01-M1234567")
    assert family == a.family(" H01-M1234567 ") != b.family("H01-M1234567")
    assert family.startswith("fam") and len(family) == 13 and family[3:] != a.patient("H01-M1234567")
