"""The `pdpb` command line: one entry point for every job of docs/architecture.md.

Each command parses its arguments, loads the settings for the home
(`--home` or `$PDPB_HOME`, default `./var`) and calls a function of the
packages; no stage logic lives here. Errors a user can act on end the command
with a one-line message on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
from pathlib import Path

from pdpb import console
from pdpb.config import PdpbError, Settings, Thresholds, parse_period

log = logging.getLogger("pdpb")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "upper", None) is not None or getattr(args, "lower", None) is not None:
        default = Thresholds()
        overrides["thresholds"] = Thresholds(
            upper=args.upper if args.upper is not None else default.upper,
            lower=args.lower if args.lower is not None else default.lower,
        )
    return Settings.load(args.home, **overrides)


def cmd_synth(args: argparse.Namespace) -> int:
    from pdpb.synth import generate, generate_national, parse_provinces

    provinces = parse_provinces(args.province)
    if len(provinces) > 1:
        if _synth_incidents(args):
            raise PdpbError("--nik-kosong and --kiriman-hilang are for one province only")
        manifest = generate_national(
            Path(args.out), provinces, voters=args.voters, periods=args.periods,
            start=args.start, seed=args.seed,
        )  # fmt: skip
        print(f"wrote a national synthetic data set to {args.out}: {manifest['national']}")
        return 0
    manifest = generate(
        Path(args.out), province=provinces[0] if provinces else args.province,
        voters=args.voters, periods=args.periods, start=args.start, seed=args.seed,
        **_synth_incidents(args),
    )  # fmt: skip
    counts = manifest.get("counts", manifest)
    print(f"wrote synthetic data to {args.out}: {counts}")
    return 0


def _synth_incidents(args: argparse.Namespace) -> dict:
    """The opt-in incidents of `pdpb synth` (docs/synth.md, "Incidents")."""
    incidents: dict = {}
    if args.nik_kosong:
        parts = args.nik_kosong.split(",")
        try:
            period, sumber, share = parts
            incidents["nik_kosong"] = (period.strip(), sumber.strip().upper(), float(share))
        except ValueError:
            raise PdpbError(
                f"--nik-kosong needs PERIOD,SUMBER,SHARE, e.g. 2026-03,DUKCAPIL,0.3 (got {args.nik_kosong!r})"
            ) from None
    if args.kiriman_hilang:
        parts = args.kiriman_hilang.split(",")
        if len(parts) != 2:
            raise PdpbError(
                f"--kiriman-hilang needs PERIOD,KODE_KABKOTA, e.g. 2026-03,36.02 (got {args.kiriman_hilang!r})"
            )
        incidents["kiriman_hilang"] = (parts[0].strip(), parts[1].strip())
    return incidents


def cmd_init(args: argparse.Namespace) -> int:
    from pdpb.locking import writer_lock
    from pdpb.voterlist import init_voters

    settings = _settings(args)
    with writer_lock(settings):
        counts = init_voters(settings, Path(args.voters))
    print(
        f"loaded {counts['voters']} voters ({counts['quarantined']} rows quarantined) from {args.voters}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pdpb.pipeline import run_period

    settings = _settings(args)

    results = run_period(settings, args.period, args.cutoff, rollback=args.rollback, yes=args.yes)
    apply = results["apply"]
    ingested = results["ingest"]
    quiet = (
        " (no files delivered)"
        if not ingested["files"]
        else " (no data rows delivered)"
        if not ingested["rows_in"]
        else ""
    )
    print(
        f"period {args.period} completed{quiet}: {apply['events']} events, {apply['BARU']} baru, "
        f"{apply['TMS']} TMS, {apply['UBAH']} ubah, {apply['review']} to review; "
        f"reports in {settings.reports_dir(args.period)}"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pdpb.status import period_status

    print(period_status(_settings(args)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pdpb.demo import run_demo, run_national_demo

    provinces = _provinces(args)
    if provinces:
        print(run_national_demo(_settings(args), provinces, voters=args.voters or 60_000,
                                periods=args.periods, seed=args.seed))  # fmt: skip
        return 0
    print(
        run_demo(
            _settings(args), voters=args.voters or 50_000, periods=args.periods, seed=args.seed
        )
    )
    return 0


def cmd_proyeksi(args: argparse.Namespace) -> int:
    from pdpb.projection import write_projection

    result = write_projection(_settings(args), args.tanggal)
    unsure = (
        f"; {result['tidak_pasti']} kept whose unknown birth date (01-07/31-12) may be under 17"
        if result["tidak_pasti"]
        else ""
    )
    print(
        f"proyeksi {result['tanggal']} (list of period {result['periode']}): "
        f"{result['proyeksi_total']} voters = {result['aktif_total']} active "
        f"+ {result['tambahan_total']} turning 17 or married by then "
        f"- {result['dikurangi_total']} still under 17{unsure}; {result['tps_baru']} new TPS; "
        f"written to {result['folder']}"
    )
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from pdpb.history import voter_history

    print(voter_history(_settings(args), dpid=args.dpid, nik=args.nik))
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    from pdpb.regions import write_region_seed

    path = Path(args.out) if args.out else None
    count = write_region_seed(path) if path else write_region_seed()
    print(f"wrote {count} regions")
    return 0


def cmd_review_export(args: argparse.Namespace) -> int:
    from pdpb.review import export_review

    result = export_review(_settings(args), args.period)
    print(
        f"review queue {args.period}: {result['events']} events in {result['xlsx']} and {result['csv']}"
        + (f"; comparison viewer {result['viewer']}" if result["viewer"] else "")
    )
    return 0


def cmd_review_import(args: argparse.Namespace) -> int:
    from pdpb.locking import writer_lock
    from pdpb.review import import_decisions

    settings = _settings(args)
    with writer_lock(settings):
        result = import_decisions(settings, Path(args.file), pemeriksa=args.pemeriksa)
    periods = ", ".join(result["periods"]) or "-"
    print(
        f"imported {result['decisions']} decisions ({result['SAMA']} SAMA, {result['BEDA']} BEDA, "
        f"{result['undecided']} rows still empty) for period {periods}; "
        f"re-run `pdpb run --period P` to apply them"
    )
    return 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    from pdpb.dedupe import run_dedupe
    from pdpb.locking import writer_lock

    settings = _settings(args)
    with writer_lock(settings):
        result = run_dedupe(settings)
    print(
        f"dedupe: {result['voters']} active voters, {result['proposals']} TMS 2 proposals "
        f"({result['AUTO']} AUTO in {result['clusters']} clusters, {result['REVIEW']} REVIEW pairs); "
        f"cluster studio {result['studio']}; `pdpb dedupe export` writes the pairs to decide"
    )
    return 0


def cmd_dedupe_export(args: argparse.Namespace) -> int:
    from pdpb.dedupe import export_dedupe

    result = export_dedupe(_settings(args))
    print(
        f"dedupe review: {result['pairs']} pairs in {result['xlsx']} and {result['csv']}"
        + (f"; comparison viewer {result['viewer']}" if result["viewer"] else "")
    )
    return 0


def cmd_dedupe_import(args: argparse.Namespace) -> int:
    from pdpb.dedupe import import_dedupe_decisions
    from pdpb.locking import writer_lock

    settings = _settings(args)
    with writer_lock(settings):
        result = import_dedupe_decisions(settings, Path(args.file), pemeriksa=args.pemeriksa)
    print(
        f"imported {result['decisions']} dedupe decisions ({result['SAMA']} SAMA, "
        f"{result['BEDA']} BEDA, {result['undecided']} rows still empty); "
        f"the next period's run turns SAMA into TMS 2"
    )
    return 0


def cmd_dedupe_evaluate(args: argparse.Namespace) -> int:
    from pdpb.dedupe import evaluate_dedupe, format_evaluation
    from pdpb.evaluation import refuse_wrongful_tms

    result = evaluate_dedupe(_settings(args), Path(args.truth))
    print(format_evaluation(result))
    if args.strict:
        refuse_wrongful_tms("dedupe", result["wrongful_tms"], result["wrongful_tms_by_relation"])
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from pdpb.audit import audit_rows, format_audit

    print(format_audit(audit_rows(_settings(args), args.period), args.period))
    return 0


def cmd_linkage_train(args: argparse.Namespace) -> int:
    from pdpb.training import retrain_model

    voters = Path(args.voters) if args.voters else None
    result = retrain_model(_settings(args), voters, Path(args.out) if args.out else None)
    print(
        f"trained on {result['records']} voters, EM passes {result['em_passes']}; "
        f"model written to {result['model_path']}"
    )
    return 0


def cmd_linkage_evaluate(args: argparse.Namespace) -> int:
    from pdpb.evaluation import evaluate, format_table, refuse_wrongful_tms

    result = evaluate(_settings(args), Path(args.truth), args.period)
    print(format_table(result))
    if args.strict:
        refuse_wrongful_tms("linkage", result["wrongful_tms"], result["wrongful_tms_by_relation"])
    return 0


def _provinces(args: argparse.Namespace) -> list[str] | None:
    if not getattr(args, "provinces", None):
        return None
    codes = [c.strip() for c in args.provinces.split(",") if c.strip()]
    bad = [c for c in codes if not (len(c) == 2 and c.isdigit())]
    if bad:
        raise PdpbError(
            f"--provinces takes two-digit province codes (e.g. 31,32,36), not {bad[0]!r}"
        )
    return codes


def cmd_route(args: argparse.Namespace) -> int:
    from pdpb.national.route import route_period

    result = route_period(_settings(args), args.period)
    shares = ", ".join(f"{k} {v}" for k, v in result["provinces"].items())
    print(
        f"routed {result['rows_in']} rows of {result['files']} files for {args.period}: "
        f"{result['rows_routed']} routed ({shares}), {result['rows_quarantined']} quarantined, "
        f"{result['moves']} moves across provinces"
    )
    return 0


def cmd_national_run(args: argparse.Namespace) -> int:
    from pdpb.national.run import require_complete, run_national

    settings = _settings(args)
    results = run_national(
        settings, args.period, _provinces(args), args.jobs, args.cutoff, yes=args.yes
    )
    for kode, r in results["provinces"].items():
        print(f"  provinsi {kode}: {r['status']}" + (f" ({r['message']})" if r["message"] else ""))
    rec = results["reconcile"]
    print(
        f"national period {args.period} {rec['status']}: {rec['provinces_completed']} of "
        f"{rec['provinces']} provinces, {rec['moves']} moves across provinces "
        f"({rec.get('moves_selesai', 0)} SELESAI), {rec['ganda_proposed']} new two-province pairs "
        f"to decide; reports in {settings.reports_dir(args.period)} ({results['seconds']} s)"
    )
    require_complete(results)
    return 0


def cmd_national_ganda_export(args: argparse.Namespace) -> int:
    from pdpb.national.ganda import export_ganda

    result = export_ganda(_settings(args))
    print(f"two-province pairs: {result['pairs']} in {result['xlsx']} and {result['csv']}")
    return 0


def cmd_national_ganda_import(args: argparse.Namespace) -> int:
    from pdpb.national.ganda import import_ganda_decisions

    result = import_ganda_decisions(_settings(args), Path(args.file), pemeriksa=args.pemeriksa)
    print(
        f"imported {result['decisions']} national decisions ({result['SAMA']} SAMA, "
        f"{result['BEDA']} BEDA, {result['undecided']} rows still empty); each province's "
        "next period turns its SAMA into TMS 2"
    )
    return 0


def cmd_national_evaluate(args: argparse.Namespace) -> int:
    from pdpb.evaluation import refuse_wrongful_tms
    from pdpb.national.evaluation import evaluate_national, format_national

    result = evaluate_national(_settings(args), Path(args.truth))
    print(format_national(result))
    if args.strict:
        refuse_wrongful_tms("national", result["wrongful_tms"], result["wrongful_tms_by_relation"])
    return 0


STRICT_HELP = "exit non-zero when any wrongful TMS is found (for benchmarks and CI)"


def _add_review_and_linkage(sub: argparse._SubParsersAction) -> None:
    review = sub.add_parser("review", help="the clerical review queue out and decisions in")
    rsub = review.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    p = rsub.add_parser(
        "export", help="write the period's REVIEW events to <home>/review/<period>/"
    )
    p.add_argument("--period", required=True, help="period YYYY-MM")
    p.set_defaults(func=cmd_review_export)
    p = rsub.add_parser("import", help="store the decisions of a filled review XLSX or CSV")
    p.add_argument("file", help="the filled review_<period>.xlsx or .csv")
    p.add_argument("--pemeriksa", help="reviewer name for rows whose PEMERIKSA is empty")
    p.set_defaults(func=cmd_review_import)

    p = sub.add_parser(
        "dedupe",
        help="find duplicate registrations (TMS 2) in the whole list; export/import the pairs to decide",
    )
    p.add_argument("--upper", type=float, help="probability at or above which a cluster is AUTO")
    p.add_argument("--lower", type=float, help="probability from which pairs are considered")
    p.set_defaults(func=cmd_dedupe)
    p.description = "Without ACTION: run the dedupe job; export and import: its review queue."
    dsub = p.add_subparsers(dest="dedupe_command", metavar="[ACTION]")
    d = dsub.add_parser("export", help="write the REVIEW pairs to <home>/review/dedupe/")
    d.set_defaults(func=cmd_dedupe_export)
    d = dsub.add_parser("import", help="store the SAMA/BEDA decisions of a filled dedupe file")
    d.add_argument("file", help="the filled periksa_ganda.xlsx or .csv")
    d.add_argument("--pemeriksa", help="reviewer name for rows whose PEMERIKSA is empty")
    d.set_defaults(func=cmd_dedupe_import)
    d = dsub.add_parser("evaluate", help="score the proposals against a generator's truth")
    d.add_argument("--truth", default="truth", help="the generator's truth/ folder")
    d.add_argument("--strict", action="store_true", help=STRICT_HELP)
    d.set_defaults(func=cmd_dedupe_evaluate)

    linkage = sub.add_parser("linkage", help="retrain or evaluate the Splink model")
    lsub = linkage.add_subparsers(dest="linkage_command", required=True, metavar="ACTION")
    p = lsub.add_parser("train", help="retrain the model on a voter list")
    p.add_argument("--voters", help="Sidalih export to train on (default: the warehouse's list)")
    p.add_argument("--out", help="model JSON to write (default: <home>/linkage/model.json)")
    p.set_defaults(func=cmd_linkage_train)
    p = lsub.add_parser("evaluate", help="score the warehouse's links against a generator's truth")
    p.add_argument("--truth", default="truth", help="the generator's truth/ folder")
    p.add_argument("--period", help="one period YYYY-MM (default: every period run)")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    p.set_defaults(func=cmd_linkage_evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdpb", description="Continuous voter-list (DPB) update pipeline."
    )
    parser.add_argument("--home", help="pipeline home (default: $PDPB_HOME or ./var)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show every log line, Airflow's and dbt's included (default: one line per stage)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.add_argument("--version", action="version", version=f"pdpb {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="write a synthetic voter list, landing files and ground truth")
    p.add_argument(
        "--province",
        default="36",
        help="province code, e.g. 36 (Banten); several, e.g. 31,32,36, for a national data set",
    )
    p.add_argument(
        "--voters",
        type=int,
        default=50_000,
        help="number of voters in the initial list (national: the total over the provinces)",
    )
    p.add_argument(
        "--periods", type=int, default=3, help="number of monthly periods of landing files"
    )
    p.add_argument("--start", default="2026-01", help="first period YYYY-MM")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--nik-kosong",
        metavar="PERIOD,SUMBER,SHARE",
        help="incident: in PERIOD the source leaves the NIK empty in SHARE of its rows",
    )
    p.add_argument(
        "--kiriman-hilang",
        metavar="PERIOD,KODE_KABKOTA",
        help="incident: the kab/kota delivers its Dukcapil rows as its own Excel file, "
        "which is missing in PERIOD (its rows arrive late in the next period)",
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "init", help="load the initial voter list (Sidalih export) into an empty home"
    )
    p.add_argument(
        "--voters", required=True, help="CSV, Parquet or XLSX in the Sidalih export format"
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("run", help="run every stage of one period without Airflow")
    p.add_argument(
        "--period", required=True, help="period YYYY-MM; its files are in <home>/landing/<period>/"
    )
    p.add_argument("--cutoff", help="cut-off date YYYY-MM-DD (default: the period's last day)")
    p.add_argument(
        "--rollback", action="store_true", help="roll back later periods to re-run an older one"
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="re-run a period that is already published (it is rolled back and published again)",
    )
    p.add_argument(
        "--upper", type=float, help="match probability at or above which a link is applied"
    )
    p.add_argument(
        "--lower", type=float, help="match probability below which an event is a new person"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo", help="synthetic province, then several periods through the Airflow DAG"
    )
    p.add_argument("--voters", type=int, help="voters (default 50,000; national: 60,000 in all)")
    p.add_argument("--periods", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--provinces", help="the national demo: these provinces (e.g. 31,32,36) as shards"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("status", help="periods done, pending review, last failures")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "proyeksi",
        help="the list as it would stand on a date (an election day), per region and TPS, "
        "without changing it",
    )
    p.add_argument(
        "--tanggal",
        help="the date YYYY-MM-DD, e.g. a voting day (default: the setting tanggal_proyeksi, "
        "2029-02-14 unless $PDPB_TANGGAL_PROYEKSI says otherwise)",
    )
    p.set_defaults(func=cmd_proyeksi)

    p = sub.add_parser("audit", help="who changed what, when and why (append-only audit log)")
    p.add_argument("--period", help="one period YYYY-MM (default: every period)")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("history", help="one voter's versions with the reason for each change")
    p.add_argument("--dpid", help="the voter record id")
    p.add_argument("--nik", help="find the records by NIK instead")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser(
        "regions", help="write the region seed for dbt from the official Kemendagri list"
    )
    p.add_argument("--out", help="CSV path (default: the dbt project's seed)")
    p.set_defaults(func=cmd_regions)

    p = sub.add_parser(
        "route", help="split a national home's landing files into the provinces' homes"
    )
    p.add_argument("--period", required=True, help="period YYYY-MM")
    p.set_defaults(func=cmd_route)

    national = sub.add_parser("national", help="the national list: every province, one recap")
    nsub = national.add_subparsers(dest="national_command", required=True, metavar="ACTION")
    p = nsub.add_parser(
        "run", help="route, the provinces' periods in parallel, reconciliation, national recap"
    )
    p.add_argument("--period", required=True, help="period YYYY-MM")
    p.add_argument("--provinces", help="province codes to run, e.g. 31,32,36 (default: all)")
    p.add_argument("--jobs", type=int, help="provinces at once (default: the machine's cores)")
    p.add_argument("--cutoff", help="cut-off date YYYY-MM-DD (default: the period's last day)")
    p.add_argument(
        "--yes", action="store_true", help="re-run provinces whose period is already published"
    )
    p.set_defaults(func=cmd_national_run)
    p = nsub.add_parser("ganda", help="people active in two provinces: pairs out, decisions in")
    gsub = p.add_subparsers(dest="ganda_command", required=True, metavar="ACTION")
    g = gsub.add_parser("export", help="write the open pairs to <home>/review/ganda_nasional/")
    g.set_defaults(func=cmd_national_ganda_export)
    g = gsub.add_parser("import", help="store the SAMA/BEDA decisions of a filled pairs file")
    g.add_argument("file", help="the filled periksa_ganda_nasional.xlsx or .csv")
    g.add_argument("--pemeriksa", help="reviewer name for rows whose PEMERIKSA is empty")
    g.set_defaults(func=cmd_national_ganda_import)
    p = nsub.add_parser("evaluate", help="score moves and two-province pairs against a truth")
    p.add_argument("--truth", default="truth", help="the national data set's truth/ folder")
    p.add_argument("--strict", action="store_true", help=STRICT_HELP)
    p.set_defaults(func=cmd_national_evaluate)

    _add_review_and_linkage(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pdpb")
    except PackageNotFoundError:
        return "unknown"


def _configure_logging(debug: bool, verbosity: int = console.NORMAL) -> None:
    """Log lines at INFO with -v (and DEBUG with --debug); otherwise warnings
    and errors only: the console's stage lines say what happens."""
    if debug:
        level = logging.DEBUG
    elif verbosity >= console.VERBOSE:
        level = logging.INFO
    elif verbosity <= console.QUIET:
        level = logging.ERROR
    else:
        level = logging.WARNING
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in (
        "splink",
        "great_expectations",
        "dbt",
        "airflow",
        "urllib3",
        "alembic",
        "sqlalchemy",
    ):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else max(level, logging.WARNING))


def _duckdb_busy(exc: BaseException) -> str | None:
    """DuckDB's refusal of a second writer (its own file lock), as one line."""
    import duckdb

    from pdpb.locking import duckdb_busy_message

    return duckdb_busy_message(exc) if isinstance(exc, duckdb.IOException) else None


def _os_error_line(exc: OSError) -> str:
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full{where}; free space and re-run the same command"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: {exc.strerror}; check the home's permissions and re-run"
    return f"{exc.strerror or exc}{where}"


# Commands whose output is the answer asked for: -q does not hide it.
ANSWER_COMMANDS = frozenset({"status", "audit", "history"})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbosity = console.QUIET if args.quiet else console.VERBOSE if args.verbose else console.NORMAL
    _configure_logging(args.debug, verbosity)
    console.open_console(verbosity)
    try:
        # Every --period and --start names a month: a wrong one is refused
        # before anything runs, never answered with "nothing found".
        for name in ("period", "start"):
            if getattr(args, name, None):
                parse_period(getattr(args, name))
        if args.quiet and args.command not in ANSWER_COMMANDS:
            with contextlib.redirect_stdout(io.StringIO()):  # -q: errors only
                return args.func(args)
        return args.func(args)
    except PdpbError as exc:
        print(f"pdpb: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk or an unwritable home, wherever it surfaces
        if args.debug:
            raise
        print(f"pdpb: error: {_os_error_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pdpb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        busy = _duckdb_busy(exc)
        if busy:
            print(f"pdpb: error: {busy}", file=sys.stderr)
            return 1
        print(
            f"pdpb: internal error: {type(exc).__name__}: {exc} (re-run with --debug for details)",
            file=sys.stderr,
        )
        return 2
    finally:
        console.close_console()


if __name__ == "__main__":
    sys.exit(main())
