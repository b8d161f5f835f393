"""Tests of the pinned Table E.1-1 and of the per-IOD action resolver."""

from collections import Counter

import pytest

from neovert import annex_e

CR = "1.2.840.10008.5.1.4.1.1.1"
DX = "1.2.840.10008.5.1.4.1.1.1.1"
DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
MR = "1.2.840.10008.5.1.4.1.1.4"


def _row(tag: str) -> dict[str, str]:
    (row,) = [r for r in annex_e.table() if r["tag"] == tag]
    return row


def test_row_and_basic_action_counts_match_the_published_2024b_table():
    rows = annex_e.table()
    assert len(rows) == 621
    assert len({r["tag"] for r in rows}) == 621
    assert Counter(r["basic"] for r in rows) == {
        "X": 384, "D": 92, "U": 54, "Z": 42, "X/D": 22, "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2,
    }


def test_option_columns_hold_only_their_codes():
    rows = annex_e.table()
    assert Counter(r["modified_dates"] for r in rows)["C"] == 165
    assert Counter(r["patient_characteristics"] for r in rows) == {"": 608, "K": 9, "C": 4}
    assert {r["tag"] for r in rows if r["clean_graphics"]} == {
        "(50XX,XXXX)", "(60XX,3000)", "(60XX,4000)", "(0070,0001)",
    }
    assert {r["clean_descriptors"] for r in rows} == {"", "C"}
    assert {r["type_cr"] for r in rows} | {r["type_dx"] for r in rows} <= {"", "1", "1C", "2", "2C", "3"}


def test_masked_rows_are_kept_verbatim():
    tags = {r["tag"] for r in annex_e.table()}
    assert {"(50XX,XXXX)", "(60XX,3000)", "(60XX,4000)", "(GGGG,EEEE) WHERE GGGG IS ODD"} <= tags


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (0x00100010, "Z"),  # Patient's Name
        (0x00100030, "Z"),  # Patient's Birth Date: no option keeps it
        (0x00100032, "X"),  # Patient's Birth Time
        (0x00100020, "Z"),  # Patient ID: Z/D, Type 2 in the Patient module
        (0x00101010, "K"),  # Patient's Age: X, Retain Patient Characteristics K
        (0x00100040, "K"),  # Patient's Sex: Z, K
        (0x00101030, "K"),  # Patient's Weight
        (0x00080020, "C"),  # Study Date: Z, Modified Dates C
        (0x0008002A, "C"),  # Acquisition DateTime: X/Z/D, Modified Dates C
        (0x00081030, "C"),  # Study Description: X, Clean Descriptors C
        (0x00204000, "C"),  # Image Comments
        (0x00080018, "U"),  # SOP Instance UID
        (0x0020000D, "U"),  # Study Instance UID
        (0x00080080, "X"),  # Institution Name: X/Z/D, Type 3
        (0x00081010, "X"),  # Station Name: X/Z/D, Type 3
        (0x00102110, "C"),  # Allergies: two options, both C
        (0xFFFCFFFC, "X"),  # Data Set Trailing Padding
        (0x00280010, None),  # Rows: not listed
        (0x00080016, None),  # SOP Class UID: not listed
    ],
)
def test_spot_checks_for_cr_and_dx(tag, expected):
    assert annex_e.action(tag, CR) == expected
    assert annex_e.action(tag, DX) == expected


def test_compound_code_follows_the_type_in_each_iod():
    # Referenced Performed Procedure Step Sequence: X/Z/D, Type 3 in CR, 1C (nested) in DX
    row = _row("(0008,1111)")
    assert (row["basic"], row["type_cr"], row["type_dx"]) == ("X/Z/D", "3", "1C")
    assert annex_e.action(0x00081111, CR) == "X"
    assert annex_e.action(0x00081111, DX) == "D"
    assert annex_e.action(0x00081111, DX_PROCESSING) == "D"


def test_compound_code_type_2_gives_z():
    # Contrast/Bolus Agent: Z/D, Type 2 in both IODs; Acquisition Context Sequence: X/Z, Type 2 in DX only
    assert annex_e.action(0x00180010, DX) == "C"  # Clean Descriptors wins over Z/D
    assert annex_e.action(0x00400555, DX) == "Z"
    assert annex_e.action(0x00400555, CR) == "X"  # not in the CR IOD


def test_unknown_iod_takes_the_strictest_branch():
    assert annex_e.action(0x00081111, MR) == "D"  # X/Z/D
    assert annex_e.action(0x00400555, MR) == "Z"  # X/Z
    assert annex_e.action(0x00081140, MR) == "U"  # Referenced Image Sequence X/Z/U*
    assert annex_e.action(0x00081140, CR) == "X"  # Type 3 in CR
    assert annex_e.action(0x00100010, MR) == "Z"  # plain codes do not depend on the IOD


@pytest.mark.parametrize("group", [0x6000, 0x6002, 0x601E, 0x60FE])
def test_overlay_groups_are_matched(group):
    assert annex_e.action(group << 16 | 0x4000, CR) == "C"  # Overlay Comments, Clean Graphics
    assert annex_e.action(group << 16 | 0x3000, DX) == "C"  # Overlay Data
    assert annex_e.action(group << 16 | 0x0010, DX) is None  # Overlay Rows: not listed


@pytest.mark.parametrize("tag", [0x50000000, 0x50100020, 0x50FE3000])
def test_curve_groups_are_matched(tag):
    assert annex_e.action(tag, CR) == "C"


def test_private_and_odd_groups_are_removed():
    assert annex_e.action(0x00191010, CR) == "X"
    assert annex_e.action(0x00090010, DX) == "X"  # private creator
    assert annex_e.action(0x60011000, DX) == "X"  # odd group next to overlays
    assert annex_e.action(0x51000000, DX) is None  # group 5100 is outside the curve range


def test_every_listed_attribute_resolves_to_one_letter():
    for row in annex_e.table():
        if row["tag"].startswith("(GGGG"):
            continue
        group, element = row["tag"].strip("()").split(",")
        tag = int(group.replace("XX", "00"), 16) << 16 | int(element.replace("XXXX", "0000"), 16)
        for sop in (CR, DX, MR):
            assert annex_e.action(tag, sop) in {"X", "Z", "D", "K", "C", "U"}, row
