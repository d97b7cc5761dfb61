"""Apply: the eligibility rules turn a period's linked events into changes.

Reads the period's events and link decisions, applies the change rules of
docs/architecture.md at the cut-off date in event order, and writes in ONE transaction:
`core.voters` (current state), `core.voter_history` (SCD2 versions),
`core.future_voters` (with a snapshot of every tracked future voter the
period changed), the change ledger `core.changes`, exactly one
`core.event_outcomes` row per ingested row, and the `applied_period` of the
dedupe proposals it turned into TMS 2. Re-running the latest period first
reverts that period's effects inside the same transaction, so a re-run
replaces its results exactly and a crash leaves the previous state intact.
docs/apply.md describes the rules and these semantics for operators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from pdpb.audit import record_changes
from pdpb.config import Settings
from pdpb.domain import tms_code
from pdpb.faults import pause_if_testing
from pdpb.warehouse import connect, insert_rows, transaction

log = logging.getLogger(__name__)


INIT_PERIOD = "0000-00"
SUMBER_PRIORITY = ("DUKCAPIL", "IMIGRASI", "TNI", "POLRI", "MASYARAKAT")

VOTER_COLUMNS = (
    "dpid", "nkk", "nik", "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "disabilitas", "ktp_el", "kode_wilayah", "tps",
    "sumber", "keterangan", "status", "tms_code", "updated_period",
)  # fmt: skip
HISTORY_COLUMNS = (
    *[c for c in VOTER_COLUMNS if c != "updated_period"],
    "version",
    "valid_from_period",
    "valid_to_period",
    "change_id",
)
FUTURE_COLUMNS = (
    "future_id", "nkk", "nik", "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "first_period", "sumber", "event_id",
    "closed_period", "closed_reason", "promoted_dpid",
)  # fmt: skip
CHANGE_COLUMNS = (
    "period", "change_id", "sumber", "event_id", "dpid", "change_type", "tms_code", "rule",
    "reason", "changed_fields", "match_method", "match_probability", "kode_wilayah", "jenis_kelamin",
)  # fmt: skip
# The values of a tracked future voter at the start of a period in which an
# event or a promotion changed it: what revert_period restores.
SNAPSHOT_COLUMNS = ("period", *FUTURE_COLUMNS)
# This table belongs in pdpb/warehouse.py with the other core DDL; it is
# created here until it moves there ("create if not exists" makes both safe).
OUTCOME_COLUMNS = (
    "period",
    "sumber",
    "event_id",
    "outcome",
    "dpid",
    "match_method",
    "match_probability",
    "detail",
)
# Fields an event may correct on a voter record (UBAH), in report order.
CORRECTABLE = (
    "nik", "nkk", "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
    "status_kawin", "alamat", "rt", "rw", "kode_wilayah",
)  # fmt: skip
ADDRESS_FIELDS = ("alamat", "rt", "rw", "kode_wilayah")

# The rules are the change_rules seed's (pdpb.domain); a TMS rule's code is the seed's too.
TMS_BY_EVENT = {
    "MENINGGAL": ("TMS_MENINGGAL", "meninggal dunia"),
    "WNA": ("TMS_WNA", "warga negara asing"),
    "MASUK_TNI": ("TMS_MASUK_TNI", "menjadi anggota TNI"),
    "MASUK_POLRI": ("TMS_MASUK_POLRI", "menjadi anggota Polri"),
    "HAK_PILIH_DICABUT": ("TMS_HAK_PILIH_DICABUT", "hak pilih dicabut putusan pengadilan"),
}
# Events that restore eligibility of a TMS record with the given code.
RESTORES = {
    "PURNA_TNI": (tms_code("TMS_MASUK_TNI"), "BARU_PURNA_TNI"),
    "PURNA_POLRI": (tms_code("TMS_MASUK_POLRI"), "BARU_PURNA_POLRI"),
    "HAK_PILIH_PULIH": (tms_code("TMS_HAK_PILIH_DICABUT"), "BARU_HAK_PILIH_PULIH"),
}
# Events that add an unknown person to the list when eligible.
BARU_BY_EVENT = {
    "PENDUDUK_BARU": "BARU_PEMILIH_PEMULA",
    "KAWIN": "BARU_KAWIN",
    "PURNA_TNI": "BARU_PURNA_TNI",
    "PURNA_POLRI": "BARU_PURNA_POLRI",
    "HAK_PILIH_PULIH": "BARU_HAK_PILIH_PULIH",
    "PINDAH": "BARU_PINDAH_MASUK",
}


def is_eligible(tanggal_lahir: date | None, status_kawin: str | None, cutoff: date) -> bool | None:
    """Aged 17 on the cut-off (the birthday itself counts) or married now or
    before. None when it cannot be decided (no birth date, not married)."""
    if status_kawin in ("S", "P"):
        return True
    if tanggal_lahir is None:
        return None
    # Tuple comparison: a 29 February birthday turns 17 on 1 March in common years.
    return (tanggal_lahir.year + 17, tanggal_lahir.month, tanggal_lahir.day) <= (
        cutoff.year,
        cutoff.month,
        cutoff.day,
    )


def kabkota(kode_wilayah: str | None) -> str | None:
    return kode_wilayah[:5] if kode_wilayah else None


def province(kode_wilayah: str | None) -> str | None:
    return kode_wilayah[:2] if kode_wilayah else None


@dataclass
class PeriodState:
    """Everything a period's apply changes, built in memory then written at once."""

    period: str
    cutoff: date
    tps_capacity: int
    voters: dict[str, dict]  # dpid -> current record (with _version), for touched voters
    futures: dict[str, dict]
    tps_load: dict[str, dict[str, int]]  # desa -> tps -> active voters
    changes: list[dict] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    closed_versions: list[tuple[str, int]] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    new_futures: list[dict] = field(default_factory=list)
    # future_id -> its values before this period changed it (existing futures only)
    futures_before: dict[str, dict] = field(default_factory=dict)
    applied_dedupe: list[tuple[str, str]] = field(default_factory=list)  # (cluster_id, dpid)
    new_dpids: int = 0

    def touch_future(self, future_id: str) -> dict:
        """The future voter, remembering its start-of-period values before any change."""
        future = self.futures[future_id]
        if future.get("first_period") != self.period and future_id not in self.futures_before:
            self.futures_before[future_id] = dict(future)
        return future

    # ---- ids and TPS
    def next_dpid(self) -> str:
        self.new_dpids += 1
        return f"B{self.period.replace('-', '')}{self.new_dpids:06d}"

    @cached_property
    def held_provinces(self) -> frozenset[str]:
        """The provinces whose desa this home's list holds (none for an empty list)."""
        return frozenset(desa[:2] for desa in self.tps_load)

    def assign_tps(self, desa: str) -> str:
        """Fill the desa's highest TPS up to capacity, then open the next number."""
        load = self.tps_load.setdefault(desa, {})
        if load:
            last = max(load, key=lambda t: int(t) if t.isdigit() else 0)
            if load[last] < self.tps_capacity:
                load[last] += 1
                return last
            number = (int(last) if last.isdigit() else 0) + 1
        else:
            number = 1
        tps = f"{number:03d}"
        load[tps] = 1
        return tps

    def _release_tps(self, record: dict) -> None:
        load = self.tps_load.get(record.get("kode_wilayah") or "", {})
        if record.get("tps") in load:
            load[record["tps"]] -= 1

    # ---- changes
    def record_change(self, record: dict, change_type: str, rule: str, reason: str, event: dict | None,
                      tms_code: int | None = None, changed_fields: list[str] | None = None) -> None:  # fmt: skip
        change_id = f"{self.period}-{len(self.changes) + 1:06d}"
        dpid = record["dpid"]
        previous_version = record.get("_version")
        if previous_version is not None:
            if record.get("_version_from") == self.period:
                # an intermediate version made earlier in this same period
                for v in self.versions:
                    if v["dpid"] == dpid and v["version"] == previous_version:
                        v["valid_to_period"] = self.period
            else:
                self.closed_versions.append((dpid, previous_version))
        record["_version"] = (previous_version or 0) + 1
        record["_version_from"] = self.period
        record["updated_period"] = self.period
        self.versions.append(
            {
                **{c: record.get(c) for c in HISTORY_COLUMNS if c in record},
                "version": record["_version"],
                "valid_from_period": self.period,
                "valid_to_period": None,
                "change_id": change_id,
            }
        )
        self.voters[dpid] = record
        self.changes.append(
            {
                "period": self.period, "change_id": change_id,
                "sumber": event["sumber"] if event else "PROMOSI",
                "event_id": event["event_id"] if event else record.get("_future_id"),
                "dpid": dpid, "change_type": change_type, "tms_code": tms_code, "rule": rule,
                "reason": reason, "changed_fields": ",".join(changed_fields) if changed_fields else None,
                "match_method": event.get("match_method") if event else "PROMOSI",
                "match_probability": event.get("match_probability") if event else None,
                "kode_wilayah": record.get("kode_wilayah"), "jenis_kelamin": record.get("jenis_kelamin"),
            }
        )  # fmt: skip

    def make_tms(self, record: dict, rule: str, reason: str, event: dict | None,
                 changed_fields: list[str] | None = None) -> None:  # fmt: skip
        code = tms_code(rule)
        self._release_tps(record)
        record.update(status="TMS", tms_code=code, keterangan=str(code))
        self.record_change(
            record, "TMS", rule, reason, event, tms_code=code, changed_fields=changed_fields
        )

    def make_baru(
        self, person: dict, rule: str, reason: str, event: dict | None, dpid: str | None = None
    ) -> dict:
        """Activate an existing TMS record (dpid given) or open a new record."""
        if dpid is not None:
            record = self.voters[dpid]
        else:
            record = {c: person.get(c) for c in CORRECTABLE}
            record.update(dpid=self.next_dpid(), sumber=(event or {}).get("sumber", "PROMOSI"),
                          disabilitas="0", ktp_el=None)  # fmt: skip
            record["_future_id"] = person.get("future_id")
        record["tps"] = (
            self.assign_tps(record["kode_wilayah"]) if record.get("kode_wilayah") else None
        )
        record.update(status="AKTIF", tms_code=None, keterangan="B")
        self.record_change(record, "BARU", rule, reason, event)
        return record

    def outcome(
        self, event: dict, outcome: str, dpid: str | None = None, detail: str | None = None
    ) -> None:
        self.outcomes.append(
            {
                "period": self.period, "sumber": event["sumber"], "event_id": event["event_id"],
                "outcome": outcome, "dpid": dpid, "match_method": event.get("match_method"),
                "match_probability": event.get("match_probability"), "detail": detail,
            }
        )  # fmt: skip


def _event_note(event: dict) -> str:
    return f"{event['jenis_peristiwa']} {event['tanggal_peristiwa']} ({event['sumber']} {event['event_id']})"


def apply_linked_voter(state: PeriodState, event: dict, dpid: str) -> None:
    record = state.voters[dpid]
    jenis = event["jenis_peristiwa"]
    note = _event_note(event)
    if record["status"] == "TMS":
        restore = RESTORES.get(jenis)
        if restore and record.get("tms_code") == restore[0]:
            state.make_baru(record, restore[1], f"hak pilih kembali: {note}", event, dpid=dpid)
            state.outcome(event, "APPLIED", dpid)
        else:
            state.outcome(event, "NO_CHANGE", dpid, f"pemilih sudah TMS {record.get('tms_code')}")
        return
    if jenis in TMS_BY_EVENT:
        rule, words = TMS_BY_EVENT[jenis]
        state.make_tms(record, rule, f"TMS {tms_code(rule)} ({words}): {note}", event)
        state.outcome(event, "APPLIED", dpid)
        return
    if (
        jenis == "PINDAH"
        and event.get("kode_wilayah")
        and kabkota(event["kode_wilayah"]) != kabkota(record["kode_wilayah"])
    ):
        state.make_tms(
            record,
            "TMS_PINDAH_KELUAR",
            f"TMS 4 (pindah domisili) ke {event['kode_wilayah']}: {note}",
            event,
        )
        if province(event["kode_wilayah"]) != province(record["kode_wilayah"]):
            # The destination province's home makes the BARU: routing sends
            # it the same event, a move into its area (docs/national.md).
            state.outcome(
                event, "APPLIED", dpid, f"pindah ke provinsi {province(event['kode_wilayah'])}"
            )
            return
        person = {
            **{c: record.get(c) for c in CORRECTABLE},
            **{c: event.get(c) for c in ADDRESS_FIELDS},
        }
        new = state.make_baru(
            person,
            "BARU_PINDAH_MASUK",
            f"pindah masuk dari {record['kode_wilayah']}: {note}",
            event,
        )
        state.outcome(event, "APPLIED", new["dpid"], f"TMS 4 pada {dpid}")
        return
    if jenis in ("PINDAH", "KAWIN", "PERUBAHAN_DATA"):
        apply_ubah(state, event, record)
        return
    # PENDUDUK_BARU, PURNA_*, HAK_PILIH_PULIH about someone already active.
    state.outcome(event, "NO_CHANGE", dpid, "pemilih sudah aktif")


def apply_ubah(state: PeriodState, event: dict, record: dict) -> None:
    jenis = event["jenis_peristiwa"]
    if jenis == "PINDAH":
        candidates = ADDRESS_FIELDS
        rule = "UBAH_PINDAH_DALAM_KABKOTA"
    elif jenis == "KAWIN":
        candidates = ("status_kawin",)
        event = {**event, "status_kawin": event.get("status_kawin") or "S"}
        rule = "UBAH_KAWIN"
    else:
        candidates = CORRECTABLE
        rule = "UBAH_PERUBAHAN_DATA"
        if event.get("nama") is not None:
            # A corrected name is the whole name: without titles it drops the
            # record's (ingest moves titles and degrees to `gelar`).
            event = {**event, "gelar": event.get("gelar") or ""}
    changed = [
        c
        for c in candidates
        if event.get(c) is not None and (event.get(c) or None) != (record.get(c) or None)
    ]
    if not changed:
        state.outcome(event, "NO_CHANGE", record["dpid"], "data sudah sama")
        return
    old_desa = record.get("kode_wilayah")
    if "kode_wilayah" in changed:
        state._release_tps(record)
    for c in changed:
        record[c] = event[c] or None
    if "kode_wilayah" in changed:
        record["tps"] = state.assign_tps(record["kode_wilayah"])
        changed.append("tps")
    note = _event_note(event)
    if is_eligible(record.get("tanggal_lahir"), record.get("status_kawin"), state.cutoff) is False:
        # The corrected data shows an under-age voter: one TMS 3 that carries
        # the corrected fields, not an UBAH immediately followed by a TMS.
        state.make_tms(record, "TMS_BAWAH_UMUR", f"TMS 3 (di bawah umur) setelah perbaikan "
                       f"{', '.join(changed)}: {note}", event, changed_fields=changed)  # fmt: skip
        state.outcome(event, "APPLIED", record["dpid"])
        return
    record["keterangan"] = "U"
    state.record_change(
        record, "UBAH", rule, f"ubah {', '.join(changed)}: {note}", event, changed_fields=changed
    )
    detail = f"pindah dari {old_desa}" if rule == "UBAH_PINDAH_DALAM_KABKOTA" else None
    state.outcome(event, "APPLIED", record["dpid"], detail)


def apply_linked_future(state: PeriodState, event: dict, future_id: str) -> None:
    future = state.touch_future(future_id)
    jenis = event["jenis_peristiwa"]
    if future.get("closed_period"):
        state.outcome(event, "NO_CHANGE", None, f"calon pemilih {future_id} sudah tidak dipantau")
        return
    for c in (
        CORRECTABLE if jenis == "PERUBAHAN_DATA" else ADDRESS_FIELDS if jenis == "PINDAH" else ()
    ):
        if event.get(c) is not None:
            future[c] = event[c]
    if jenis == "KAWIN":
        future["status_kawin"] = event.get("status_kawin") or "S"
    if jenis in ("MENINGGAL", "WNA", "MASUK_TNI", "MASUK_POLRI", "HAK_PILIH_DICABUT"):
        future.update(closed_period=state.period, closed_reason=jenis)
        state.outcome(event, "NO_CHANGE", None, f"calon pemilih {future_id} tidak lagi dipantau")
        return
    if is_eligible(future.get("tanggal_lahir"), future.get("status_kawin"), state.cutoff):
        rule = "BARU_KAWIN" if jenis == "KAWIN" else "BARU_PROMOSI"
        record = state.make_baru(
            future, rule, f"calon pemilih memenuhi syarat: {_event_note(event)}", event
        )
        future.update(closed_period=state.period, closed_reason=rule, promoted_dpid=record["dpid"])
        state.outcome(event, "APPLIED", record["dpid"])
    else:
        state.outcome(event, "FUTURE_VOTER", None, f"calon pemilih {future_id} diperbarui")


def apply_new_person(state: PeriodState, event: dict) -> None:
    jenis = event["jenis_peristiwa"]
    rule = BARU_BY_EVENT.get(jenis)
    if rule is None:
        state.outcome(event, "NOT_FOUND", None, "tidak ditemukan di daftar pemilih")
        return
    person = {c: event.get(c) for c in CORRECTABLE}
    if jenis == "KAWIN":
        person["status_kawin"] = event.get("status_kawin") or "S"
    if not person.get("kode_wilayah"):
        state.outcome(event, "NO_CHANGE", None, "kode_wilayah kosong: tidak dapat didaftarkan")
        return
    held = state.held_provinces
    if held and province(person["kode_wilayah"]) not in held:
        # A move out to another province whose person this home did not find:
        # the destination's home registers them (routing sends it the event).
        state.outcome(event, "NOT_FOUND", None,
                      f"tujuan di provinsi {province(person['kode_wilayah'])}: "
                      "tidak ditemukan di daftar pemilih asal")  # fmt: skip
        return
    eligible = is_eligible(person.get("tanggal_lahir"), person.get("status_kawin"), state.cutoff)
    if eligible is None:
        state.outcome(
            event, "NO_CHANGE", None, "tanggal_lahir kosong: kelayakan tidak dapat ditentukan"
        )
    elif eligible:
        record = state.make_baru(person, rule, f"pemilih baru: {_event_note(event)}", event)
        state.outcome(event, "APPLIED", record["dpid"])
    else:
        future_id = f"F{state.period.replace('-', '')}{len(state.new_futures) + 1:06d}"
        future = {**person, "future_id": future_id, "first_period": state.period,
                  "sumber": event["sumber"], "event_id": event["event_id"]}  # fmt: skip
        state.new_futures.append(future)
        state.futures[future_id] = future
        state.outcome(event, "FUTURE_VOTER", None, f"dipantau sebagai calon pemilih {future_id}")


def promote_future_voters(state: PeriodState) -> None:
    """Future voters who reach 17 (or married) by the cut-off become BARU with no event."""
    for future_id in sorted(state.futures):
        future = state.futures[future_id]
        if future.get("closed_period") or future.get("first_period") == state.period:
            continue
        if is_eligible(future.get("tanggal_lahir"), future.get("status_kawin"), state.cutoff):
            state.touch_future(future_id)
            future["future_id"] = future_id
            record = state.make_baru(
                future, "BARU_PROMOSI", "berusia 17 tahun pada tanggal batas", None
            )
            future.update(
                closed_period=state.period, closed_reason="PROMOSI", promoted_dpid=record["dpid"]
            )


# The whole-list age check: a change it makes names the check as its event.
PERIKSA_UMUR = "PERIKSA_UMUR"

# Active, unmarried (B or unknown) voters whose recorded birth date puts the
# 17th birthday after the cut-off, over the list as it stands after the
# period's events: `core.voters` for the records the period has not touched,
# `_diubah_periode` (their in-memory values) for the rest. One scan of the list,
# filtered before anything reaches Python. The birthday is compared as
# (year + 17, month, day) against the cut-off, exactly as `is_eligible` does
# (a 29 February birthday counts from 1 March in common years). 01-07-YYYY and
# 31-12-YYYY are how an unknown birth date is written: the person may have
# been born on any day of YYYY, so they are surely under 17 only if they would
# be even when born on 1 January, i.e. when YYYY + 17 is after the cut-off's
# year; `pasti` is false for those who are under 17 only by the written day.
# The two conditions are shared with the projection (pdpb/projection.py),
# with the parameters of `under_age_params`.
UNDER_AGE_SQL = """(status_kawin is null or status_kawin = 'B')
      and (year(tanggal_lahir) + 17) * 10000 + month(tanggal_lahir) * 100 + day(tanggal_lahir)
          > $batas"""
UNDER_AGE_PASTI_SQL = """not ((month(tanggal_lahir) = 7 and day(tanggal_lahir) = 1)
                or (month(tanggal_lahir) = 12 and day(tanggal_lahir) = 31))
           or year(tanggal_lahir) + 17 > $tahun"""


def under_age_params(cutoff: date) -> dict[str, int]:
    """The parameters of UNDER_AGE_SQL and UNDER_AGE_PASTI_SQL for a cut-off."""
    return {"tahun": cutoff.year, "batas": cutoff.year * 10000 + cutoff.month * 100 + cutoff.day}


_WHOLE_LIST_QUERY = f"""
    with daftar as (
        select dpid, tanggal_lahir, status_kawin, status
        from core.voters
        where status = 'AKTIF' and dpid not in (select dpid from _diubah_periode)
        union all
        select dpid, tanggal_lahir, status_kawin, status from _diubah_periode
    )
    select dpid, {UNDER_AGE_PASTI_SQL} as pasti
    from daftar
    where status = 'AKTIF'
      and {UNDER_AGE_SQL}
    order by dpid
"""


def check_whole_list(con, state: PeriodState) -> dict:
    """TMS 3 for every active voter whose recorded data shows them under 17
    and unmarried at the cut-off, whether or not an event touched them.

    Removing an eligible voter is the worst error the system can make, so an
    unknown birth date (01-07-YYYY or 31-12-YYYY) counts as the earliest day
    of its year: such a voter is left on the list unless under 17 even then,
    and is only counted (`bawah_umur_tidak_pasti`) for the operator to check.
    A voter without a birth date is never removed by this check."""
    import pyarrow as pa

    touched = [state.voters[d] for d in sorted(state.voters)]
    con.register(
        "_diubah_periode",
        pa.table(
            {
                "dpid": pa.array([r["dpid"] for r in touched], pa.string()),
                "tanggal_lahir": pa.array([r.get("tanggal_lahir") for r in touched], pa.date32()),
                "status_kawin": pa.array([r.get("status_kawin") for r in touched], pa.string()),
                "status": pa.array([r.get("status") for r in touched], pa.string()),
            }
        ),
    )
    cutoff = state.cutoff
    try:
        found = con.execute(_WHOLE_LIST_QUERY, under_age_params(cutoff)).fetchall()
    finally:
        con.unregister("_diubah_periode")
    sure = [dpid for dpid, pasti in found if pasti]
    unsure = [dpid for dpid, pasti in found if not pasti]
    state.voters.update(_load_voters(con, [d for d in sure if d not in state.voters]))
    check = {"sumber": PERIKSA_UMUR, "event_id": f"UMUR-{cutoff.isoformat()}",
             "match_method": PERIKSA_UMUR, "match_probability": None}  # fmt: skip
    reason = (
        f"TMS 3 (di bawah umur): data tercatat menunjukkan belum berusia 17 tahun dan belum "
        f"kawin pada tanggal batas {cutoff:%d-%m-%Y} (pemeriksaan seluruh daftar)"
    )
    for dpid in sure:
        state.make_tms(state.voters[dpid], "TMS_BAWAH_UMUR", reason, check)
    if unsure:
        log.warning(
            "whole-list check %s: %d active voters would be under 17 only by a written "
            "unknown birth date (01-07 or 31-12), left on the list; e.g. %s",
            state.period,
            len(unsure),
            ", ".join(unsure[:5]),
        )
    return {"bawah_umur": len(sure), "bawah_umur_tidak_pasti": len(unsure)}


def apply_dedupe(state: PeriodState, proposals: list[dict]) -> None:
    """Accepted duplicates (AUTO or SAMA) become TMS 2 on the non-surviving record.

    Only while both records are still AKTIF after the period's events: a record
    that died or moved away this period keeps that reason, and a duplicate of a
    record that left the list is not a duplicate any more (the proposal stays
    pending, for the next dedupe run to reconsider)."""
    for p in proposals:
        record = state.voters.get(p["dpid"])
        # A survivor `<kode>:<dpid>` lives in another province: a national
        # decision (pdpb national ganda import), taken while both were active.
        elsewhere = ":" in p["survivor_dpid"]
        survivor = state.voters.get(p["survivor_dpid"], {"status": "AKTIF"} if elsewhere else None)
        if (
            record is None
            or survivor is None
            or p["dpid"] == p["survivor_dpid"]
            or record["status"] != "AKTIF"
            or survivor["status"] != "AKTIF"
        ):
            continue
        cluster = {"sumber": "DEDUPE", "event_id": p["cluster_id"], "match_method": "DEDUPE",
                   "match_probability": p["match_probability"]}  # fmt: skip
        reason = f"TMS 2 (ganda) dengan {p['survivor_dpid']}: klaster {p['cluster_id']} ({p['decision']})"
        state.make_tms(record, "TMS_GANDA", reason, cluster)
        state.applied_dedupe.append((p["cluster_id"], p["dpid"]))


# --------------------------------------------------------------------------- database


def revert_period(con, period: str) -> None:
    """Undo every effect of `period` (which must be the latest applied one)."""
    touched = [r[0] for r in con.execute(
        "select distinct dpid from core.voter_history where valid_from_period = ? or valid_to_period = ?",
        [period, period]).fetchall()]  # fmt: skip
    con.execute("delete from core.voter_history where valid_from_period = ?", [period])
    con.execute(
        "update core.voter_history set valid_to_period = null where valid_to_period = ?", [period]
    )
    if touched:
        con.execute(
            "create or replace temp table _touched as select unnest(?::varchar[]) as dpid",
            [touched],
        )
        con.execute("delete from core.voters where dpid in (select dpid from _touched)")
        con.execute(
            f"""insert into core.voters ({", ".join(VOTER_COLUMNS)})
            select {", ".join(c if c != "updated_period" else "valid_from_period" for c in VOTER_COLUMNS)}
            from core.voter_history
            where valid_to_period is null and dpid in (select dpid from _touched)"""
        )
    con.execute("delete from core.future_voters where first_period = ?", [period])
    # Future voters the period updated or closed get back their start-of-period values.
    con.execute(
        "delete from core.future_voters where future_id in "
        "(select future_id from core.future_voter_snapshots where period = ?)",
        [period],
    )
    con.execute(
        f"insert into core.future_voters ({', '.join(FUTURE_COLUMNS)}) "
        f"select {', '.join(FUTURE_COLUMNS)} from core.future_voter_snapshots where period = ?",
        [period],
    )
    con.execute("delete from core.future_voter_snapshots where period = ?", [period])
    # A future voter closed in the period without a snapshot row is reopened too.
    con.execute(
        "update core.future_voters set closed_period = null, closed_reason = null, promoted_dpid = null "
        "where closed_period = ?",
        [period],
    )
    con.execute(
        "update core.dedupe_proposals set applied_period = null where applied_period = ?", [period]
    )
    con.execute("delete from core.changes where period = ?", [period])
    con.execute("delete from core.event_outcomes where period = ?", [period])


def _load_events(con, period: str) -> list[dict]:
    rows = (
        con.sql(
            """select e.*, m.decision, m.target_id, m.match_method, m.match_probability, m.duplicate_of, m.flag
        from core.events e
        left join core.matches m using (period, sumber, event_id)
        where e.period = ?""",
            params=[period],
        )
        .to_arrow_table()
        .to_pylist()
    )
    priority = {s: i for i, s in enumerate(SUMBER_PRIORITY)}
    rows.sort(
        key=lambda e: (
            e["tanggal_peristiwa"],
            priority.get(e["sumber"], 99),
            e["sumber"],
            e["event_id"],
        )
    )
    return rows


def _load_records(
    con, table: str, key: str, ids: list[str], where: str = "true"
) -> dict[str, dict]:
    if not ids:
        return {}
    con.execute("create or replace temp table _ids as select unnest(?::varchar[]) as id", [ids])
    rows = con.sql(
        f"select * from {table} where {key} in (select id from _ids) and {where}"
    ).to_arrow_table()
    return {r[key]: r for r in rows.to_pylist()}


def _load_voters(con, dpids: list[str]) -> dict[str, dict]:
    """Current records of these voters, each with its latest history version."""
    voters = _load_records(con, "core.voters", "dpid", dpids)
    versions = dict(
        con.execute(
            "select dpid, max(version) from core.voter_history where dpid in (select id from _ids) group by dpid"
        ).fetchall()
    ) if dpids else {}  # fmt: skip
    for dpid, record in voters.items():
        record["_version"] = versions.get(dpid)
    return voters


def _load_dedupe_proposals(con) -> list[dict]:
    """Accepted duplicate proposals not yet applied, in a stable order."""
    return (
        con.sql(
            """select cluster_id, dpid, survivor_dpid, match_probability, decision
               from core.dedupe_proposals
               where decision in ('AUTO', 'SAMA') and applied_period is null
               order by cluster_id, dpid"""
        )
        .to_arrow_table()
        .to_pylist()
    )


def _load_state(
    con, period: str, cutoff: date, tps_capacity: int, events: list[dict]
) -> PeriodState:
    dpids = sorted({e["target_id"] for e in events if e.get("target_id")})
    voters = _load_voters(con, dpids)
    futures = {
        r["future_id"]: r
        for r in con.sql("select * from core.future_voters where closed_period is null")
        .to_arrow_table()
        .to_pylist()
    }
    tps_load: dict[str, dict[str, int]] = {}
    for desa, tps, n in con.execute(
        "select kode_wilayah, tps, count(*) from core.voters where status = 'AKTIF' and tps is not null group by all"
    ).fetchall():
        tps_load.setdefault(desa, {})[tps] = n
    return PeriodState(period, cutoff, tps_capacity, voters, futures, tps_load)


def _quarantine_outcomes(con, period: str, taken: set[tuple[str, str]]) -> list[dict]:
    rows = con.execute(
        "select file_name, row_number, sumber, event_id, reason from core.quarantine where period = ? order by all",
        [period],
    ).fetchall()
    outcomes = []
    for file_name, row_number, sumber, event_id, reason in rows:
        sumber = sumber or "TIDAK_DIKETAHUI"
        key_id = event_id or f"{file_name}:{row_number}"
        if (sumber, key_id) in taken:
            key_id = f"{key_id}@{file_name}:{row_number}"
        taken.add((sumber, key_id))
        outcomes.append({"period": period, "sumber": sumber, "event_id": key_id, "outcome": "QUARANTINED",
                         "dpid": None, "match_method": None, "match_probability": None,
                         "detail": f"{reason} ({file_name} baris {row_number})"})  # fmt: skip
    return outcomes


def apply_events(state: PeriodState, events: list[dict]) -> None:
    for event in events:
        decision = event.get("decision")
        target = event.get("target_id")
        if decision == "DUPLICATE_EVENT":
            state.outcome(
                event, "DUPLICATE_EVENT", None, f"sama dengan {event.get('duplicate_of')}"
            )
        elif decision == "REVIEW":
            state.outcome(
                event,
                "REVIEW",
                None,
                f"perlu diperiksa: kandidat {target} {event.get('flag') or ''}".strip(),
            )
        elif decision == "LINK" and target in state.futures:
            apply_linked_future(state, event, target)
        elif decision == "LINK" and target:
            apply_linked_voter(state, event, target)
        else:
            apply_new_person(state, event)


def apply_period(settings: Settings, period: str, cutoff: date) -> dict:
    """Apply one period's linked events, accepted duplicates and future-voter
    promotions in one transaction; returns change counts."""
    con = connect(settings)
    try:
        with transaction(con):
            revert_period(con, period)
            events = _load_events(con, period)
            if any(e.get("decision") is None for e in events):
                missing = sum(e.get("decision") is None for e in events)
                raise RuntimeError(
                    f"{missing} events of {period} have no link decision; run the link stage first"
                )
            state = _load_state(con, period, cutoff, settings.tps_capacity, events)
            # Events first (a death outranks a duplicate), then accepted
            # duplicates, then the whole-list age check on what remains
            # active, then promotions; the last two need no event, so a quiet
            # month with no delivery still does both.
            apply_events(state, events)
            proposals = _load_dedupe_proposals(con)
            wanted = {d for p in proposals for d in (p["dpid"], p["survivor_dpid"])}
            state.voters.update(_load_voters(con, sorted(wanted - set(state.voters))))
            apply_dedupe(state, proposals)
            checked = check_whole_list(con, state)
            promote_future_voters(state)
            state.outcomes += _quarantine_outcomes(
                con, period, {(o["sumber"], o["event_id"]) for o in state.outcomes}
            )
            _write_state(con, state)
            # who, when, what and why of every change, committed with the changes
            record_changes(con, period)
            pause_if_testing(settings, "apply")
    finally:
        con.close()
    counts = {k: sum(c["change_type"] == k for c in state.changes) for k in ("BARU", "TMS", "UBAH")}
    counts["review"] = sum(o["outcome"] == "REVIEW" for o in state.outcomes)
    counts["ganda"] = len(state.applied_dedupe)
    counts.update(checked)
    counts["events"] = len(events)
    log.info("apply %s (cut-off %s): %s", period, cutoff, counts)
    return counts


def _write_state(con, state: PeriodState) -> None:
    if state.closed_versions:
        con.execute(
            "create or replace temp table _closed as select * from "
            "(select unnest(?::varchar[]) as dpid, unnest(?::integer[]) as version)",
            [[d for d, _ in state.closed_versions], [v for _, v in state.closed_versions]],
        )
        con.execute(
            "update core.voter_history h set valid_to_period = ? from _closed c "
            "where h.dpid = c.dpid and h.version = c.version",
            [state.period],
        )
    insert_rows(con, "core.voter_history", HISTORY_COLUMNS, state.versions)
    touched = sorted(state.voters)
    if touched:
        con.execute(
            "create or replace temp table _touched as select unnest(?::varchar[]) as dpid",
            [touched],
        )
        con.execute("delete from core.voters where dpid in (select dpid from _touched)")
        insert_rows(
            con,
            "core.voters",
            VOTER_COLUMNS,
            (state.voters[d] for d in touched if "_version" in state.voters[d]),
        )
    _write_futures(con, state)
    if state.applied_dedupe:
        con.execute(
            "create or replace temp table _ganda as select * from "
            "(select unnest(?::varchar[]) as cluster_id, unnest(?::varchar[]) as dpid)",
            [[c for c, _ in state.applied_dedupe], [d for _, d in state.applied_dedupe]],
        )
        con.execute(
            "update core.dedupe_proposals p set applied_period = ? from _ganda g "
            "where p.cluster_id = g.cluster_id and p.dpid = g.dpid",
            [state.period],
        )
    insert_rows(con, "core.changes", CHANGE_COLUMNS, state.changes)
    insert_rows(con, "core.event_outcomes", OUTCOME_COLUMNS, state.outcomes)


def _write_futures(con, state: PeriodState) -> None:
    """New future voters, and changed ones rewritten with a start-of-period snapshot."""
    changed = {
        fid: state.futures[fid]
        for fid, before in sorted(state.futures_before.items())
        if {c: state.futures[fid].get(c) for c in FUTURE_COLUMNS}
        != {c: before.get(c) for c in FUTURE_COLUMNS}
    }
    if changed:
        insert_rows(
            con,
            "core.future_voter_snapshots",
            SNAPSHOT_COLUMNS,
            ({**state.futures_before[fid], "period": state.period} for fid in changed),
        )
        con.execute(
            "create or replace temp table _futures as select unnest(?::varchar[]) as future_id",
            [list(changed)],
        )
        con.execute(
            "delete from core.future_voters where future_id in (select future_id from _futures)"
        )
        insert_rows(con, "core.future_voters", FUTURE_COLUMNS, changed.values())
    insert_rows(con, "core.future_voters", FUTURE_COLUMNS, state.new_futures)
