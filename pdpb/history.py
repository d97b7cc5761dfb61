"""`pdpb history`: one voter's versions and the reason for each change.

Answers the operator's question "why is this person no longer on the list?"
from `core.voter_history` joined to the change ledger. NIK and NKK are shown
masked by the warehouse's one masking rule (`core.mask_nik`).
"""

from __future__ import annotations

from pdpb.config import PdpbError, Settings
from pdpb.warehouse import connect


def voter_history(settings: Settings, dpid: str | None = None, nik: str | None = None) -> str:
    if not settings.warehouse_path.exists():
        raise PdpbError(f"home {settings.home} has no warehouse yet")
    con = connect(settings, read_only=True)
    try:
        if nik and not dpid:
            found = con.execute(
                "select distinct dpid from core.voter_history where nik = ? order by 1", [nik]
            ).fetchall()
            if not found:
                raise PdpbError("no voter record has that NIK")
            dpids = [r[0] for r in found]
        elif dpid:
            dpids = [dpid]
        else:
            raise PdpbError("give --dpid or --nik")
        rows = con.execute(
            """select h.dpid, h.version, h.valid_from_period, coalesce(h.valid_to_period, '-'), h.status,
                      h.tms_code, h.nama, core.mask_nik(h.nik), h.kode_wilayah, h.tps,
                      c.change_type, c.rule, c.reason, c.sumber, c.event_id, c.match_method, c.match_probability
               from core.voter_history h left join core.changes c on c.change_id = h.change_id
               where h.dpid in (select unnest(?::varchar[]))
               order by h.dpid, h.version""",
            [dpids],
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise PdpbError(f"no voter record with dpid {dpid}")
    lines = []
    for (d, version, start, end, status, tms, nama, nik_masked, desa, tps, ctype, rule, reason, sumber,
         event_id, method, prob) in rows:  # fmt: skip
        state = f"{status} {tms}" if tms else status
        lines.append(
            f"{d} v{version} [{start} .. {end}] {state}: {nama} NIK {nik_masked} desa {desa} TPS {tps}"
        )
        if ctype:
            how = f"{method} p={prob:.3f}" if prob is not None else method
            lines.append(f"    {ctype} {rule} by {sumber} {event_id} ({how}): {reason}")
        else:
            lines.append("    initial list")
    return "\n".join(lines)
