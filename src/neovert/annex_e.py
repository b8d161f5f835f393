"""DICOM PS3.15 Annex E (Table E.1-1, edition 2024b): one resolved action per attribute and IOD.

Why a pinned table: the table grows every edition, so the de-identifier must name the edition it
applied (EDITION, written into every audit record) and diff the table on upgrade instead of
following whatever a library ships. The data lives in `data/annex_e_table_e1-1_2024b.tsv`; its
provenance (and which option cells were inferred) is in `data/README.md`.

How an action is resolved, for the Basic Profile plus the options in OPTIONS:

1. An option column that has a value wins over the basic column. Only Allergies and Patient State
   carry two option values in 2024b, and both say C, so precedence never changes a result; it is
   fixed anyway, first match wins: Retain Patient Characteristics, Modified Dates, Clean
   Descriptors, Clean Graphics (a K that an option grants is kept rather than cleaned).
2. A compound basic code (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) is resolved with the attribute's Type in
   the IOD of the SOP class (PS3.15 E.3.1): Type 1/1C takes the last (strictest) branch, D or U;
   Type 2/2C takes Z where the code offers it, otherwise the last branch, because removing a
   Type 2 attribute would break the IOD; Type 3, or not in the IOD, takes the first branch (X, or
   Z for Z/D).
3. For a SOP class other than CR and DX the Type is unknown, so the strictest branch is taken
   (D over Z over X, U over Z over X), as Karnak does.

Types (columns type_cr / type_dx) come from highdicom 0.28.2's copy of PS3.3. An attribute at the
top level of the IOD has its top-level Type. One that only appears inside sequences gets the
strictest Type among its nested paths: the resolver sees a tag, not its path, and over-keeping
a dummy is safer than dropping a required one. Attributes of user-optional (U) and conditional
(C) modules count with their Type inside the module, since the module is present whenever the
attribute is.

Masked rows: (50XX,XXXX) Curve Data matches every element of even groups 5000-50FF; (60XX,3000)
Overlay Data and (60XX,4000) Overlay Comments match even groups 6000-60FF. Every odd group (the
private attributes row) is X: Retain Safe Private is not applied.
"""

from __future__ import annotations

import csv
import functools
from importlib import resources

EDITION = "2024b"
OPTIONS: dict[str, str] = {
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
    "113108": "Retain Patient Characteristics Option",
    "113105": "Clean Descriptors Option",
    "113103": "Clean Graphics Option",
}
_TABLE_FILE = f"annex_e_table_e1-1_{EDITION}.tsv"

# first non-empty column wins (see module docstring)
_OPTION_COLUMNS = ("patient_characteristics", "modified_dates", "clean_descriptors", "clean_graphics")
_IOD_OF_SOP_CLASS = {
    "1.2.840.10008.5.1.4.1.1.1": "cr",  # Computed Radiography Image Storage
    "1.2.840.10008.5.1.4.1.1.1.1": "dx",  # Digital X-Ray Image Storage - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1": "dx",  # Digital X-Ray Image Storage - For Processing
}
_CURVE = 0x50000000  # key of the (50XX,XXXX) row; overlay rows sit at 0x6000xxxx
_PRIVATE = "(GGGG,EEEE) WHERE GGGG IS ODD"


@functools.cache
def table() -> tuple[dict[str, str], ...]:
    """The rows of the pinned TSV, read once, as dicts keyed by the header."""
    text = resources.files("neovert").joinpath("data", _TABLE_FILE).read_text(encoding="utf-8")
    return tuple(csv.DictReader(text.splitlines(), delimiter="\t"))


def _tag_key(tag: str) -> int | None:
    """'(0010,0010)' -> 0x00100010; masked rows map to their group-x000 key; private -> None."""
    if tag == _PRIVATE:
        return None
    group, element = tag.strip("()").split(",")
    return int(group.replace("XX", "00"), 16) << 16 | int(element.replace("XXXX", "0000"), 16)


def _resolve(code: str, type_: str | None) -> str:
    """Pick one branch of a (possibly compound) basic code; type_ None means 'IOD unknown'."""
    branches = code.rstrip("*").split("/")
    if len(branches) == 1:
        return code
    if type_ is None or type_ in ("1", "1C"):
        return branches[-1]
    if type_ in ("2", "2C"):
        return "Z" if "Z" in branches else branches[-1]
    return branches[0]


@functools.cache
def _actions(iod: str) -> dict[int, str]:
    """tag -> resolved action for one IOD ('cr', 'dx' or 'other'), built once."""
    out = {}
    for row in table():
        key = _tag_key(row["tag"])
        if key is None:
            continue
        option = next((row[c] for c in _OPTION_COLUMNS if row[c]), None)
        type_ = None if iod == "other" else row[f"type_{iod}"]
        out[key] = option or _resolve(row["basic"], type_)
    return out


def action(tag: int, sop_class_uid: str) -> str | None:
    """The single resolved action letter (one of X, Z, D, K, C, U) for this attribute under the Basic
    Profile with the options above applied, resolved per IOD; None when Table E.1-1 does not list it."""
    actions = _actions(_IOD_OF_SOP_CLASS.get(sop_class_uid, "other"))
    found = actions.get(tag)
    if found is not None:
        return found
    group = tag >> 16
    if group & 1:
        return "X"
    if 0x5000 <= group <= 0x50FF:
        return actions[_CURVE]
    if 0x6000 <= group <= 0x60FF:
        return actions.get(0x60000000 | tag & 0xFFFF)
    return None
