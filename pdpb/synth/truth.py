"""How two true persons are related, from their rows of truth/persons.csv.

Evaluation uses it to say which relation a wrong link or a wrong change
confused. Children of a household are the head's (and the spouse's), and the
head's parents live with them as ORANG_TUA; two ORANG_TUA are a couple.
People who moved in from another province head a household of their own.
"""

from __future__ import annotations

from collections.abc import Mapping

RELATIONS = (
    "orang_sama",
    "kembar",
    "saudara",
    "orang_tua_anak",
    "pasangan",
    "keluarga_lain",
    "tidak_terkait",
)
_PARENT_CHILD = {
    frozenset(("KEPALA", "ANAK")),
    frozenset(("PASANGAN", "ANAK")),
    frozenset(("ORANG_TUA", "KEPALA")),
}
_SPOUSES = {frozenset(("KEPALA", "PASANGAN")), frozenset(("ORANG_TUA",))}


def relation(a: Mapping[str, str], b: Mapping[str, str]) -> str:
    """One of RELATIONS for two rows with person_id, household_id, hubungan, kembar_dengan."""
    if a["person_id"] == b["person_id"]:
        return "orang_sama"
    if a["household_id"] != b["household_id"]:
        return "tidak_terkait"
    if b["person_id"] in (a.get("kembar_dengan") or "").split(";"):
        return "kembar"
    roles = frozenset((a["hubungan"], b["hubungan"]))
    if roles == {"ANAK"}:
        return "saudara"
    if roles in _PARENT_CHILD:
        return "orang_tua_anak"
    if roles in _SPOUSES:
        return "pasangan"
    # A grandparent and a grandchild, or a parent-in-law.
    return "keluarga_lain"
