"""`pdpb demo`: the main job on the embedded default, from nothing.

Generates a small synthetic province, loads its initial voter list into the
home, delivers each period's landing files and runs the periods one by one
through the real Airflow DAG (embedded: SQLite metadata, Airflow's own test
runner), approving each period's publication through the DAG's `approval`
param, then prints what a user would look at. The demo owns the home it
runs in: it refuses a home it did not create, and starts a demo home afresh.
"""

from __future__ import annotations

import shutil
import time

from pdpb import console
from pdpb.config import PdpbError, Settings
from pdpb.orchestration import pdpb_command
from pdpb.warehouse import connect

MARKER = ".pdpb-demo"
DEMO_START = "2026-01"


def _fresh_demo_home(settings: Settings) -> None:
    home = settings.home
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise PdpbError(
            f"home {home} holds data the demo did not create; use --home with an empty folder"
        )
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text(
        "created by `pdpb demo`; the demo deletes this home when it runs again\n"
    )


def run_demo(settings: Settings, voters: int = 50_000, periods: int = 3, seed: int = 7) -> str:
    from pdpb.orchestration import prepare_airflow, run_periods
    from pdpb.synth import generate
    from pdpb.voterlist import init_voters

    started = time.monotonic()
    _fresh_demo_home(settings)
    data = settings.home / "synth"
    generate(data, province="36", voters=voters, periods=periods, start=DEMO_START, seed=seed)
    console.say(f"[demo] synthetic province: {voters:,} voters, {periods} periods of deliveries"
                f" ({time.monotonic() - started:.1f} s)")  # fmt: skip
    step = time.monotonic()
    counts = init_voters(settings, data / "voters.csv")
    console.say(f"[demo] voter list loaded: {counts['voters']:,} voters"
                f" ({time.monotonic() - step:.1f} s)")  # fmt: skip
    prepare_airflow(settings)
    period_list = sorted(p.name for p in (data / "landing").iterdir() if p.is_dir())
    for period in period_list:
        shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    # Nobody sits at the approval step in a demo: the param answers it (docs/airflow.md).
    run_periods(settings, period_list, {"approval": "approve"})
    return summary(settings, period_list, time.monotonic() - started)


def run_national_demo(
    settings: Settings,
    provinces: list[str],
    voters: int = 60_000,
    periods: int = 3,
    seed: int = 7,
) -> str:
    """The national list on the embedded default: a synthetic national data set
    (docs/synth.md), one province home each under the home, the national
    deliveries in the national landing folder, then every period through the
    pdpb_national DAG (route, the provinces, reconcile, national recap)."""
    from pdpb.national.home import province_settings
    from pdpb.orchestration import NATIONAL_DAG_ID, prepare_airflow, run_periods
    from pdpb.synth import generate_national
    from pdpb.voterlist import init_voters

    started = time.monotonic()
    _fresh_demo_home(settings)
    data = settings.home / "synth"
    generate_national(data, provinces, voters=voters, periods=periods, start=DEMO_START, seed=seed)
    console.say(f"[demo] synthetic national list: {voters:,} voters in provinces "
                f"{', '.join(provinces)}, {periods} periods ({time.monotonic() - started:.1f} s)")  # fmt: skip
    for kode in provinces:
        step = time.monotonic()
        counts = init_voters(
            province_settings(settings, kode), data / "provinces" / kode / "voters.csv"
        )
        console.say(f"[demo] provinsi {kode}: {counts['voters']:,} voters loaded"
                    f" ({time.monotonic() - step:.1f} s)")  # fmt: skip
    prepare_airflow(settings)
    period_list = sorted(p.name for p in (data / "landing").iterdir() if p.is_dir())
    for period in period_list:
        shutil.copytree(data / "landing" / period, settings.landing_dir(period))
    run_periods(settings, period_list, {"approval": "approve"}, NATIONAL_DAG_ID)
    return national_summary(settings, period_list, time.monotonic() - started)


def national_summary(settings: Settings, periods: list[str], seconds: float) -> str:
    from pdpb.national.home import connect_national

    con = connect_national(settings, read_only=True)
    try:
        rows = con.execute(
            """select n.period, n.status, r.jumlah_provinsi, r.baru_total, r.tms_total,
                      r.akhir_total,
                      (select count(*) from nasional.move_reconciliation m where m.period = n.period),
                      (select count(*) from nasional.move_reconciliation m
                       where m.period = n.period and m.status = 'SELESAI')
               from nasional.periods n left join marts.rpt_rekap_nasional r using (period)
               where n.period in (select unnest(?::varchar[])) order by 1""",
            [periods],
        ).fetchall()
        pairs = con.execute(
            "select count(*) from nasional.ganda_proposals where decision = 'REVIEW'"
        ).fetchone()[0]
    finally:
        con.close()
    lines = [
        f"PDPB national demo finished in {seconds:.0f} s: {len(rows)} periods through the "
        "Airflow DAG pdpb_national",
        "",
        f"{'period':8} {'status':10} {'prov':>4} {'baru':>6} {'TMS':>6} {'akhir':>8} {'pindah':>7}",
    ]
    for period, status, n, baru, tms, akhir, moves, done in rows:
        lines.append(f"{period:8} {status:10} {n or 0:>4} {baru or 0:>6} {tms or 0:>6} "
                     f"{akhir or 0:>8} {done:>3}/{moves:<3}")  # fmt: skip
    last = periods[-1]
    reports = settings.reports_dir(last)
    shown = console.shown
    lines += [
        "",
        f"two-province pairs to decide: {pairs} ({pdpb_command(settings, 'national ganda export')})",
        f"national recap: {shown(reports / f'rekap_nasional_{last}.xlsx')}",
        f"report (HTML):  {shown(reports / 'index.html')}",
        f"snapshot:       {shown(settings.published_dir / 'pdpb.duckdb')}",
        f"status:         {pdpb_command(settings, 'status')}",
    ]
    return "\n".join(lines)


def summary(settings: Settings, periods: list[str], seconds: float) -> str:
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            """select p.period,
                (select count(*) from core.event_outcomes o where o.period = p.period),
                (select count(*) from core.changes c where c.period = p.period and c.change_type = 'BARU'),
                (select count(*) from core.changes c where c.period = p.period and c.change_type = 'TMS'),
                (select count(*) from core.changes c where c.period = p.period and c.change_type = 'UBAH'),
                (select count(*) from core.event_outcomes o where o.period = p.period and o.outcome = 'REVIEW'),
                p.status
            from core.periods p where p.period in (select unnest(?::varchar[])) order by 1""",
            [periods],
        ).fetchall()
        aktif = con.execute("select count(*) from core.voters where status = 'AKTIF'").fetchone()[0]
    finally:
        con.close()
    lines = [
        f"PDPB demo finished in {seconds:.0f} s: {len(rows)} periods through the Airflow DAG pdpb_monthly",
        "",
    ]
    lines.append(
        f"{'period':8} {'events':>7} {'baru':>6} {'TMS':>6} {'ubah':>6} {'review':>7}  status"
    )
    for period, events, baru, tms, ubah, review, status in rows:
        lines.append(f"{period:8} {events:>7} {baru:>6} {tms:>6} {ubah:>6} {review:>7}  {status}")
    lines += ["", f"active voters now: {aktif:,}"]
    last = periods[-1]
    reports = settings.reports_dir(last)
    shown = console.shown
    lines += [
        f"recap (XLSX):   {shown(reports / f'rekap_{last}.xlsx')}",
        f"report (HTML):  {shown(reports / 'index.html')}",
        f"data docs:      {shown(settings.datadocs_dir / 'index.html')}",
        f"warehouse:      {shown(settings.warehouse_path)}",
        f"snapshot:       {shown(settings.published_dir / 'pdpb.duckdb')}",
        f"status:         {pdpb_command(settings, 'status')}",
    ]
    return "\n".join(lines)
