"""`pdpb status`: which periods ran, what waits for review, what failed last."""

from __future__ import annotations

from pdpb.config import Settings
from pdpb.warehouse import connect


def period_status(settings: Settings) -> str:
    from pdpb.national.home import is_national

    if is_national(settings):
        return national_status(settings)
    return _home_status(settings)


def national_status(settings: Settings) -> str:
    """Every province's state, then the national periods."""
    from pdpb.national.home import connect_national, province_homes

    lines = [f"national home: {settings.home}"]
    for kode, home in province_homes(settings).items():
        body = _home_status(home).splitlines()
        lines.append(f"provinsi {kode}: " + body[0].split(": ", 1)[-1])
        lines += ["  " + line for line in body[1:]]
    if settings.warehouse_path.exists():
        con = connect_national(settings, read_only=True)
        try:
            rows = con.execute(
                "select period, status, provinces_completed, message from nasional.periods "
                "order by period"
            ).fetchall()
            pending = con.execute(
                "select count(*) from nasional.ganda_proposals where decision = 'REVIEW'"
            ).fetchone()[0]
        finally:
            con.close()
        for period, status, done, message in rows:
            lines.append(f"nasional {period}: {status} (selesai: {done or '-'})")
            if message:
                lines.append(f"      {message}")
        if pending:
            lines.append(f"nasional: {pending} two-province pairs pending decision")
    return "\n".join(lines)


def _home_status(settings: Settings) -> str:
    if not settings.warehouse_path.exists():
        return f"home {settings.home}: no warehouse yet (run `pdpb init --voters FILE`)"
    con = connect(settings, read_only=True)
    try:
        voters = con.execute(
            "select status, count(*) from core.voters group by 1 order by 1"
        ).fetchall()
        periods = con.execute(
            """select p.period, p.cutoff, p.status, p.stage, p.message,
                      (select count(*) from core.event_outcomes o where o.period = p.period and o.outcome = 'REVIEW'),
                      (select count(*) from core.files f where f.period = p.period),
                      (select coalesce(sum(f.rows_in), 0) from core.files f where f.period = p.period)
               from core.periods p order by p.period"""
        ).fetchall()
        rejected = con.execute(
            "select period, file_name, message from core.files where status = 'REJECTED' order by period desc limit 5"
        ).fetchall()
    finally:
        con.close()
    lines = [f"home: {settings.home}", "voters: " + ", ".join(f"{s} {n:,}" for s, n in voters)]
    if not periods:
        lines.append("periods: none run yet")
    for period, cutoff, status, stage, message, review, files, rows in periods:
        line = f"  {period} (cut-off {cutoff}): {status}"
        if status != "COMPLETED":
            line += f" at stage {stage}"
        # A quiet month runs to the end; say so, lest it pass for a missed delivery.
        if not files and stage not in ("start", "ingest"):
            line += ", no files delivered"
        elif files and not rows:
            line += ", files delivered with no data rows"
        if review:
            line += f", {review} events pending review"
        if message:
            line += f"\n      last failure: {message}"
        lines.append(line)
    for period, file_name, message in rejected:
        lines.append(f"  rejected file {file_name} ({period}): {message}")
    return "\n".join(lines)
