"""Init: load the initial voter list (a Sidalih export) into an empty home.

The list becomes version 1 of every dpid in `core.voter_history` (period
`0000-00`) and the current `core.voters`. Rows that cannot be used go to
`core.quarantine` with a reason, and the file is recorded in `core.files`, so
rows in = loaded + quarantined holds for the list as for any delivery.

A province's list has millions of rows but few distinct values in most
columns (a few hundred thousand names, tens of thousands of birth dates and
addresses, a few dozen places), so the list is read in chunks, column by
column, and every normaliser runs once per distinct value of a chunk; the
identity columns, distinct per voter, are taken as they are where they are
already in normal form. A CSV is read by Arrow's CSV reader straight into
columns of text; a file it would not read exactly as the row reader does
(a blank or short line, a quoted line break), an XLSX or a Parquet file is
read row by row. Memory stays bounded by the chunk; the rows go to DuckDB as
Arrow.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from pdpb import normalize as nz
from pdpb.apply import INIT_PERIOD, VOTER_COLUMNS
from pdpb.config import PdpbError, Settings
from pdpb.console import progress
from pdpb.contracts import SIDALIH_COLUMNS
from pdpb.ingest import (
    FileRejected,
    check_size,
    check_text,
    delimiter,
    read_rows,
    sha256_of,
)
from pdpb.warehouse import connect, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

# A whole-province export is far larger than one monthly delivery (Jawa Barat,
# 36 M voters, is about 6 GB as CSV).
MAX_LIST_BYTES = 64 << 30
CHUNK_ROWS = 200_000  # rows per chunk of a row reader (XLSX, Parquet, an irregular CSV)
CSV_BLOCK_BYTES = 32 << 20  # bytes per chunk of a CSV read by Arrow (about 150,000 rows)
QUARANTINE_COLUMNS = (
    "period", "file_name", "row_number", "sumber", "event_id", "reason", "detail", "raw",
)  # fmt: skip


def _required(fn: Callable[[object], object], reason: str, what: str) -> Callable[[object], object]:
    def check(raw: object) -> object:
        value = fn(raw)
        if value is None:
            raise nz.InvalidValue(reason, f"{what} is empty")
        return value

    return check


def _birth_date(today: date) -> Callable[[object], date | None]:
    def parse(raw: object) -> date | None:
        lahir = nz.parse_date(raw)
        if lahir is not None and (lahir > today or lahir.year < 1900):
            raise nz.InvalidValue("INVALID_BIRTH_DATE", f"tanggal_lahir {lahir} is implausible")
        return lahir

    return parse


def _keterangan(raw: object) -> tuple[str | None, int | None, str]:
    """(keterangan, tms_code, status): a TMS code 1-9 in keterangan means TMS."""
    keterangan = nz.clean_text(raw)
    code = (
        int(keterangan)
        if keterangan and keterangan.isdigit() and 1 <= int(keterangan) <= 9
        else None
    )
    return keterangan, code, "TMS" if code else "AKTIF"


def _tps(raw: object) -> str | None:
    tps = nz.clean_text(raw)
    return f"{int(tps):03d}" if tps and tps.isdigit() else tps


# Text that these normalisers return unchanged (RE2 patterns, whole value):
# digits for an identity number, upper-case letters and digits for a code. A
# chunk's values that match are taken as they are, in Arrow, rather than
# passed one by one to Python: a province's dpid, NIK and NKK are nearly all
# distinct, so they are most of the work. The blank words (NULL, ...) are
# never taken as they are.
_UNCHANGED = {
    "dpid": "^[0-9A-Z]+$",
    "nik": "^[0-9]+$",
    "nkk": "^[0-9]+$",
}


def field_rules(
    today: date,
) -> list[tuple[str, tuple[str, ...], Callable[[object], object]]]:
    """(Sidalih column, voter columns it fills, normaliser), in the order in
    which a row's first error is reported. A normaliser returning a tuple fills
    several columns."""
    return [
        ("dpid", ("dpid",), _required(nz.clean_text, "MISSING_DPID", "dpid")),
        ("tanggal_lahir", ("tanggal_lahir",), _birth_date(today)),
        ("nama", ("nama", "gelar"), nz.split_name),
        ("keterangan", ("keterangan", "tms_code", "status"), _keterangan),
        ("kode_wilayah", ("kode_wilayah",), _required(nz.region_code, "UNKNOWN_REGION", "kode_wilayah")),
        ("tps", ("tps",), _tps),
        ("nkk", ("nkk",), nz.digits),
        ("nik", ("nik",), nz.digits),
        ("tempat_lahir", ("tempat_lahir",), nz.clean_text),
        ("jenis_kelamin", ("jenis_kelamin",), nz.jenis_kelamin),
        ("status_kawin", ("status_kawin",), nz.status_kawin),
        ("alamat", ("alamat",), nz.clean_text),
        ("rt", ("rt",), nz.rt_rw),
        ("rw", ("rw",), nz.rt_rw),
        ("disabilitas", ("disabilitas",), lambda raw: nz.clean_text(raw) or "0"),
        ("ktp_el", ("ktp_el",), nz.clean_text),
        ("sumber", ("sumber",), nz.clean_text),
    ]  # fmt: skip


TYPES = {"tanggal_lahir": pa.date32(), "tms_code": pa.int32()}


def _distinct(raw: tuple | pa.Array) -> tuple[list[object], pa.Array]:
    """A column's distinct values and, per row, the index of its value among
    them: in Arrow for text (a CSV's cells, or None), in Python for the typed
    cells of a workbook, where 1 == 1.0 == True must stay apart."""
    if isinstance(raw, pa.Array) or set(map(type, raw)) <= {str, type(None)}:
        text = raw if isinstance(raw, pa.Array) else pa.array(raw, pa.string())
        encoded = pc.dictionary_encode(text, null_encoding="encode")
        return encoded.dictionary.to_pylist(), encoded.indices
    keys = [v if type(v) is str or v is None else (type(v), v) for v in raw]
    slots: dict[object, int] = {}
    indices = [slots.setdefault(k, len(slots)) for k in keys]
    return [_raw(k) for k in slots], pa.array(indices, pa.int32())


def _raw(key: object) -> object:
    return key[1] if type(key) is tuple else key


def _normalised(
    column: str, fn: Callable[[object], object], values: list[object]
) -> tuple[list[object], dict[int, nz.InvalidValue], list[bool]]:
    """fn of each distinct value: (results, failures by value index, and which
    values were taken unchanged without calling fn)."""
    unchanged = [False] * len(values)
    pattern = _UNCHANGED.get(column)
    if pattern and values:
        text = pa.array([v if type(v) is str else None for v in values], pa.string())
        same = pc.and_(
            pc.match_substring_regex(text, pattern),
            pc.invert(pc.is_in(text, value_set=pa.array(sorted(nz._BLANKS)))),
        )
        unchanged = [bool(v) for v in same.fill_null(False).to_pylist()]
    results: list[object] = []
    failed: dict[int, nz.InvalidValue] = {}
    for i, value in enumerate(values):
        if unchanged[i]:
            results.append(value)
            continue
        try:
            results.append(fn(value))
        except nz.InvalidValue as bad:
            failed[i] = bad
            results.append(None)
    return results, failed, unchanged


def normalise_chunk(
    rows: list[list[object]], positions: dict[str, int], first_row: int, file_name: str, today: date
) -> tuple[pa.Table, list[dict]]:
    """Normalise a chunk of raw rows (a row reader's: CSV, XLSX or Parquet)."""
    width = max(positions.values()) + 1
    if any(len(row) < width for row in rows):
        rows = [row if len(row) >= width else [*row, *[None] * (width - len(row))] for row in rows]
    transposed = list(zip(*rows, strict=False))
    columns = {column: transposed[positions[column]] for column in SIDALIH_COLUMNS}
    return normalise_columns(columns, len(rows), first_row, file_name, today)


def normalise_columns(
    columns: dict[str, tuple | pa.Array], n: int, first_row: int, file_name: str, today: date
) -> tuple[pa.Table, list[dict]]:
    """Normalise a chunk given column by column (the raw cells of each Sidalih
    column: a tuple, or an Arrow text array): (voters with `row_number`,
    quarantine rows). Each normaliser runs once per distinct value of a
    column, and not at all for values it would return unchanged
    (`_UNCHANGED`)."""
    errors: dict[int, nz.InvalidValue] = {}
    arrays = {"row_number": pa.array(range(first_row, first_row + n), pa.int64())}
    for column, targets, fn in field_rules(today):
        values, indices = _distinct(columns[column])
        results, failed, _ = _normalised(column, fn, values)
        if failed:
            bad = pc.is_in(indices, value_set=pa.array(list(failed), pa.int32()))
            for i in pc.indices_nonzero(bad).to_pylist():
                errors.setdefault(i, failed[indices[i].as_py()])
        if len(targets) == 1:
            arrays[targets[0]] = pa.array(results, TYPES.get(column, pa.string())).take(indices)
            continue
        for j, target in enumerate(targets):
            part = [None if r is None else r[j] for r in results]
            arrays[target] = pa.array(part, TYPES.get(target, pa.string())).take(indices)
    voters = pa.table(arrays)
    if errors:
        voters = voters.filter(pa.array([i not in errors for i in range(n)]))

    def cell(column: str, i: int) -> object:
        value = columns[column][i]
        return value.as_py() if isinstance(value, pa.Scalar) else value

    quarantine = [
        {
            "period": INIT_PERIOD, "file_name": file_name, "row_number": first_row + i,
            "sumber": "SIDALIH", "event_id": nz.clean_text(cell("dpid", i)),
            "reason": bad.reason, "detail": bad.detail,
            "raw": str({c: cell(c, i) for c in SIDALIH_COLUMNS if c not in ("nik", "nkk")})[:4000],
        }
        for i, bad in sorted(errors.items())
    ]  # fmt: skip
    return voters, quarantine


class NeedsRowReader(Exception):
    """A CSV that the columnar reader would not read exactly as the row reader
    does (a line with too few or too many fields, a blank line, a quoted line
    break): read it row by row instead."""


def _header_positions(header: list[object]) -> dict[str, int]:
    return {str(h or "").strip().lstrip("\ufeff").lower(): i for i, h in enumerate(header)}


def _require_columns(positions: dict[str, int], path: Path) -> None:
    missing = [c for c in SIDALIH_COLUMNS if c not in positions]
    if missing:
        raise FileRejected(f"{path.name}: missing required columns: {', '.join(missing)}")


def _columnar_csv_chunks(path: Path, today: date) -> Iterator[tuple[pa.Table, list[dict]]]:
    """A CSV list read by Arrow's CSV reader, block by block, every cell as
    text: the same chunks as the row reader gives for a plain file, without a
    Python row per voter. Raises NeedsRowReader before the first chunk it
    cannot take exactly (see there), possibly after earlier chunks."""
    import pyarrow.csv as pv

    check_size(path, MAX_LIST_BYTES, "one voter list")
    encoding = check_text(path)
    with path.open("r", encoding=encoding, newline="") as handle:
        first_line = handle.readline()
    header = next(csv.reader([first_line], delimiter=delimiter(first_line)), [])
    if not any(h.strip() for h in header) or len(set(header)) != len(header):
        raise NeedsRowReader(
            f"{path.name}: blank lines before the header, or a repeated column name"
        )
    positions = _header_positions(header)
    _require_columns(positions, path)
    invalid: list[object] = []

    def invalid_row(row: object) -> str:
        invalid.append(row)
        return "skip"

    delim = delimiter(first_line)
    try:
        reader = pv.open_csv(
            path,
            read_options=pv.ReadOptions(
                encoding="utf8" if encoding == "utf-8-sig" else encoding,
                block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1,
            ),
            parse_options=pv.ParseOptions(
                delimiter=delim, ignore_empty_lines=False,
                newlines_in_values=False, invalid_row_handler=invalid_row,
            ),
            convert_options=pv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )  # fmt: skip
    except pa.ArrowException as exc:
        raise NeedsRowReader(f"{path.name}: {exc}") from exc
    first_row = 2
    while True:
        try:
            batch = next(reader)
        except StopIteration:
            return
        except pa.ArrowException as exc:  # an unbalanced quote, say: the row reader says what
            raise NeedsRowReader(f"{path.name}: {exc}") from exc
        empty = functools.reduce(pc.and_kleene, (pc.equal(column, "") for column in batch.columns))
        if invalid or pc.any(empty).as_py():
            raise NeedsRowReader(f"{path.name}: a line that is blank or has another field count")
        columns = {c: batch.column(positions[c]) for c in SIDALIH_COLUMNS}
        yield normalise_columns(columns, batch.num_rows, first_row, path.name, today)
        first_row += batch.num_rows


def read_voter_list_chunks(
    path: Path, columnar: bool = True
) -> Iterator[tuple[pa.Table, list[dict]]]:
    """Read and normalise a Sidalih export chunk by chunk: (voters, quarantine
    rows with reasons). A CSV is read by Arrow's reader (`columnar`), which
    raises NeedsRowReader, possibly after some chunks, for a file only the row
    reader reads exactly; the caller then starts again with `columnar=False`.
    A dpid repeated in the file is not caught here (see `init_voters` and
    `read_voter_list`)."""
    path = Path(path)
    if not path.is_file():
        raise PdpbError(f"voter list {path} does not exist")
    today = datetime.now().date()
    if columnar and path.suffix.lower() not in (".xlsx", ".parquet"):
        yield from _columnar_csv_chunks(path, today)
        return
    header, rows = read_rows(path, max_bytes=MAX_LIST_BYTES, what="one voter list")
    positions = _header_positions(header)
    _require_columns(positions, path)
    first_row = 2
    while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
        yield normalise_chunk(chunk, positions, first_row, path.name, today)
        first_row += len(chunk)


def read_voter_list(path: Path) -> tuple[pa.Table, list[dict]]:
    """The whole list in memory (for retraining on a file): voters without
    repeated dpids (the first row wins), quarantine rows."""
    path = Path(path)

    def read(columnar: bool) -> tuple[pa.Table, list[dict]]:
        tables, quarantine, seen = [], [], set()
        for voters, bad in read_voter_list_chunks(path, columnar):
            kept, repeated = _drop_repeats(voters, seen, path.name)
            tables.append(kept)
            quarantine += bad + repeated
        return pa.concat_tables(tables), quarantine

    return columnar_else_by_rows(read)


def columnar_else_by_rows(read: Callable[[bool], T]) -> T:
    """`read(columnar=True)`, or, when that meets a file only the row reader
    reads exactly (NeedsRowReader), `read(columnar=False)`: `read` must leave
    nothing of an abandoned try (init's transaction rolls back)."""
    try:
        return read(True)
    except NeedsRowReader as why:
        log.info("%s; reading it row by row", why)
        return read(False)


def _drop_repeats(voters: pa.Table, seen: set[str], file_name: str) -> tuple[pa.Table, list[dict]]:
    """Rows whose dpid is in `seen` or earlier in `voters` become DUPLICATE_DPID
    quarantine rows; `seen` gains the dpids kept."""
    dpids = voters.column("dpid").to_pylist()
    if seen.isdisjoint(dpids) and len(set(dpids)) == len(dpids):
        seen.update(dpids)
        return voters, []
    keep, repeated = [], []
    for i, (dpid, row_number) in enumerate(
        zip(dpids, voters.column("row_number").to_pylist(), strict=True)
    ):
        if dpid in seen:
            repeated.append(_duplicate(file_name, row_number, dpid))
        else:
            seen.add(dpid)
            keep.append(i)
    return voters.take(keep), repeated


def _duplicate(file_name: str, row_number: int, dpid: str) -> dict:
    return {"period": INIT_PERIOD, "file_name": file_name, "row_number": row_number,
            "sumber": "SIDALIH", "event_id": dpid, "reason": "DUPLICATE_DPID",
            "detail": f"dpid {dpid} repeats", "raw": json.dumps({"dpid": dpid})}  # fmt: skip


def init_voters(settings: Settings, path: Path, actor: str | None = None) -> dict:
    """Load the initial list; refuses a home that already has voters. One
    transaction: voters, history, quarantine, the file's ledger row and the
    INIT audit row land together or not at all. Then the list's name forms
    are stored (core.name_forms, a cache the link stage also fills)."""
    from pdpb.linking import refresh_name_forms

    path = Path(path)
    if not path.is_file():
        raise PdpbError(f"voter list {path} does not exist")
    con = connect(settings)
    try:
        if con.execute("select count(*) from core.voters").fetchone()[0]:
            raise PdpbError(
                f"home {settings.home} already has a voter list; init needs an empty home"
            )
        loaded, quarantined = columnar_else_by_rows(
            lambda columnar: _load_list(con, path, columnar, actor)
        )
        # The list's name forms now, once, rather than in the first period's link.
        refresh_name_forms(con)
    finally:
        con.close()
    counts = {"rows_in": loaded + quarantined, "voters": loaded, "quarantined": quarantined}
    log.info("init from %s: %s", path.name, counts)
    return counts


def _load_list(con, path: Path, columnar: bool, actor: str | None) -> tuple[int, int]:
    """Init's one transaction (see init_voters): (voters loaded, rows quarantined)."""
    from pdpb.audit import record

    loaded = quarantined = 0
    columns = ", ".join(VOTER_COLUMNS)
    with transaction(con):
        for voters, quarantine in progress(read_voter_list_chunks(path, columnar), what="init"):
            voters, repeated = _first_of_each_dpid(con, voters, path.name)
            voters = voters.append_column(
                "updated_period", pa.array([INIT_PERIOD] * voters.num_rows, pa.string())
            )
            # Straight into core.voters: a large insert into a temp table
            # inside a transaction came back empty with DuckDB 2.0.0.
            con.register("_chunk", voters)
            con.execute(f"insert into core.voters ({columns}) select {columns} from _chunk")
            con.unregister("_chunk")
            _insert_quarantine(con, quarantine + repeated)
            loaded += voters.num_rows
            quarantined += len(quarantine) + len(repeated)
        stored = con.execute("select count(*) from core.voters").fetchone()[0]
        if stored != loaded:
            raise PdpbError(f"init stored {stored} voters of {loaded} read; nothing was loaded")
        con.execute(
            f"""insert into core.voter_history by name
                select * exclude (updated_period), 1 as version, '{INIT_PERIOD}' as valid_from_period,
                       null as valid_to_period, null as change_id
                from core.voters"""
        )
        con.execute(
            "insert into core.files values (?, ?, ?, ?, 'SIDALIH', ?, ?, ?, 'LOADED', null, now())",
            [INIT_PERIOD, path.name, sha256_of(path), path.stat().st_size,
             loaded + quarantined, loaded, quarantined],
        )  # fmt: skip
        record(con, "INIT", INIT_PERIOD, INIT_PERIOD,
               f"initial list: {loaded} voters, {quarantined} rows quarantined",
               f"pdpb init --voters {path.name}", actor=actor)  # fmt: skip
    return loaded, quarantined


def _first_of_each_dpid(con, voters: pa.Table, file_name: str) -> tuple[pa.Table, list[dict]]:
    """A dpid repeated in the file: its first row is the voter, later rows
    (in this chunk or after an earlier one) are quarantined."""
    con.register("_dpids", pa.table({"dpid": voters.column("dpid")}))
    loaded = {
        r[0]
        for r in con.execute(
            "select dpid from _dpids semi join core.voters using (dpid)"
        ).fetchall()
    }
    con.unregister("_dpids")
    return _drop_repeats(voters, loaded, file_name)


def _insert_quarantine(con, rows: list[dict]) -> None:
    if rows:
        con.executemany(
            f"insert into core.quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
            f"values ({', '.join('?' * len(QUARANTINE_COLUMNS))})",
            [[r[c] for c in QUARANTINE_COLUMNS] for r in rows],
        )
