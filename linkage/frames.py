"""Comparison frames: events and voters in the one shape Splink compares.

Training, event linkage and dedupe all register the same columns on both
sides: a unique id `uid`, cleaned identity columns, whether the NIK agrees with
its own row (`nik_ok`), the canonical name forms of `linkage.names`, and
blocking keys. Role-specific rules live here and nowhere
else: for a PINDAH event the voter is sought at the old desa
(`kode_wilayah_asal`), and its address columns (the new address) are blanked
so that a move is not evidence against the match.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from linkage.names import name_forms
from pdpb.normalize import known_kabkota

# Repetitive columns are dictionary-encoded (int32 codes into the distinct
# values): a province's list repeats a few hundred thousand names, a few
# thousand addresses and desa codes, so a frame of 36 M voters takes a few GB
# instead of some ten. DuckDB reads them as VARCHAR.
CODED = pa.dictionary(pa.int32(), pa.string())
FRAME_SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("nik", pa.string()),
        ("nik_ok", pa.bool_()),
        ("nkk", pa.string()),
        ("nama_norm", CODED),
        ("nama_sorted", CODED),
        ("tanggal_lahir", pa.date32()),
        ("lahir_tahun", pa.int32()),
        ("jenis_kelamin", CODED),
        ("tempat_lahir", CODED),
        ("alamat", CODED),
        ("rt", CODED),
        ("rw", CODED),
        ("wilayah", CODED),
        ("bk_first", CODED),
        ("bk_sorted", CODED),
    ]
)

_DIGITS = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")
_PLACE_PREFIX = re.compile(r"^(KABUPATEN|KAB\.?|KOTA|KOTAMADYA)\s+")
_ADDRESS_WORDS = {"JALAN": "JL", "JLN": "JL", "GANG": "GG", "KAMPUNG": "KP", "KAMP": "KP"}


def clean_digits_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Digits only; empty and all-zero numbers are unknown (null), not evidence."""
    text = values.cast(pa.string())
    # The warehouse's NIKs and NKKs are digits already: skip the regex then.
    if pc.all(pc.fill_null(pc.ascii_is_decimal(text), True)).as_py() is False:
        text = pc.replace_substring_regex(text, r"\D+", "")
    unknown = pc.equal(pc.utf8_ltrim(text, characters="0"), "")
    return pc.if_else(unknown, pa.scalar(None, pa.string()), text)


def clean_digits(value: str | None) -> str | None:
    """`clean_digits_array` for one value."""
    return clean_digits_array(pa.array([value], pa.string()))[0].as_py()


def clean_place(value: str | None) -> str | None:
    if not value:
        return None
    text = _SPACES.sub(" ", str(value).upper().replace(".", ". ")).strip()
    text = _PLACE_PREFIX.sub("", text).replace(".", "").strip()
    return text or None


def clean_address(value: str | None) -> str | None:
    if not value:
        return None
    words = re.sub(r"[^A-Z0-9 ]+", " ", str(value).upper()).split()
    text = " ".join(_ADDRESS_WORDS.get(w, w) for w in words)
    return text or None


def clean_address_array(values: pa.Array) -> pa.Array:
    """`clean_address` over an array: ASCII values in Arrow (a province's
    list has hundreds of thousands of distinct addresses), the few others in
    Python, whose upper-casing Arrow's does not match for every character."""
    text = pc.utf8_upper(values)
    text = pc.replace_substring_regex(text, r"[^A-Z0-9 ]+", " ")
    for word, short in _ADDRESS_WORDS.items():
        text = pc.replace_substring_regex(text, rf"\b{word}\b", short)
    text = pc.utf8_trim(pc.replace_substring_regex(text, r" +", " "), characters=" ")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    other = pc.invert(pc.fill_null(pc.string_is_ascii(values), True))
    if pc.any(other).as_py():
        python = pa.array([clean_address(v) for v in values.to_pylist()], pa.string())
        text = pc.if_else(other, python, text)
    return text


def clean_rt_rw(value: str | None) -> str | None:
    """RT/RW as an integer string; 000 and empty mean unknown."""
    digits = clean_digits(value)
    return str(int(digits)) if digits else None


# The NIK rule of `pdpb.normalize.nik_is_valid`, in SQL, over `nik` (the text)
# and `nik_number` (`try_cast(nik as ubigint)`: one cast instead of a dozen
# substrings, which cost seconds over a province's list). The cast also reads
# '+1', ' 1', '1e3', '0x1F' and '1.0', so the number printed back must be the
# text: that makes the text 16 plain digits. The known kab/kota are those of
# `known_kabkota()`, the Python rule's own set, as a string of 0/1 indexed by
# the PPKK code: one substr per row, nothing registered on the connection.
# Not an IN list (nor list_contains): DuckDB turns a long constant list into a
# hash join, which does not keep the rows' order, and `nik_agrees_array` must
# return its flags in the order of its rows. A property test holds this,
# `nik_is_valid` and lokal's parser equal on every input. False, never null.
_PPKK = "(nik_number // 1000000000000)"
_CC = "(nik_number // 10000000000 % 100)"
_DD = "(nik_number // 100000000 % 100)"
_MM = "(nik_number // 1000000 % 100)"
_YY = "(nik_number // 10000 % 100)"
_DAY = f"({_DD} - if({_DD} > 40, 40, 0))"
_KABKOTA = known_kabkota()
_KABKOTA_MASK = "".join("1" if f"{code:04d}" in _KABKOTA else "0" for code in range(10000))
NIK_VALID_SQL = f"""coalesce(
        length(nik) = 16 and nik_number::varchar = nik
        and substr('{_KABKOTA_MASK}', {_PPKK}::integer + 1, 1) = '1'
        and {_CC} <> 0
        and {_MM} between 1 and 12
        and {_DAY} between 1 and case
            when {_MM} = 2 then if({_YY} % 4 = 0, 29, 28)
            when {_MM} in (4, 6, 9, 11) then 30
            else 31 end
        and nik_number % 10000 <> 0,
        false)"""

# A NIK that can speak for its row: valid (above) and, where the row knows
# them, with the same birth date and sex as the row. A NIK that contradicts its
# own row is often someone else's (a relative's card, a clerk's copy), so it is
# never taken as proof that two records are different people. Written on `nik`,
# `nik_number`, `tanggal_lahir` and `jenis_kelamin` (L/P).
NIK_AGREES_SQL = f"""
    coalesce(
        {NIK_VALID_SQL}
        and coalesce(jenis_kelamin not in ('L', 'P')
                     or jenis_kelamin = if({_DD} > 40, 'P', 'L'), true)
        and coalesce(day(tanggal_lahir) = {_DAY}
                     and month(tanggal_lahir) = {_MM}
                     and year(tanggal_lahir) % 100 = {_YY}, true),
        false)
"""


_scratch = threading.local()


def _scratch_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection of this thread and process, opened once
    (opening one costs some 25 ms, and every frame checks its NIKs)."""
    con, pid = getattr(_scratch, "con", None), getattr(_scratch, "pid", None)
    if con is None or pid != os.getpid():
        _scratch.con, _scratch.pid = duckdb.connect(), os.getpid()
    return _scratch.con


def nik_agrees_array(table: pa.Table) -> pa.ChunkedArray:
    """`NIK_AGREES_SQL` over a table with nik, tanggal_lahir, jenis_kelamin."""
    con = _scratch_connection()
    con.register("frame_rows", table.select(["nik", "tanggal_lahir", "jenis_kelamin"]))
    try:
        return con.sql(
            f"""select {NIK_AGREES_SQL} as ok
                from (select *, try_cast(nik as ubigint) as nik_number from frame_rows)"""
        ).to_arrow_table()["ok"]
    finally:
        con.unregister("frame_rows")


def nik_agrees(nik: str | None, tanggal_lahir: date | None, jenis_kelamin: str | None) -> bool:
    """`NIK_AGREES_SQL` for one row."""
    row = pa.table(
        {
            "nik": pa.array([clean_digits(nik)], pa.string()),
            "tanggal_lahir": pa.array([tanggal_lahir], pa.date32()),
            "jenis_kelamin": pa.array([jenis_kelamin], pa.string()),
        }
    )
    return bool(nik_agrees_array(row)[0].as_py())


# The name forms as columns (in `linkage.names.name_forms` order). A warehouse
# keeps them per distinct name (pdpb's core.name_forms), so a period computes
# only new names'; NAME_FORMS_VERSION says which rules made them.
FORM_COLUMNS = ("nama_norm", "nama_sorted", "bk_first", "bk_sorted")


def name_forms_table(nama: list[str]) -> pa.Table:
    """`name_forms` of each name: nama and the FORM_COLUMNS."""
    forms = [name_forms(n) for n in nama]
    columns = {"nama": pa.array(nama, pa.string())}
    for i, column in enumerate(FORM_COLUMNS):
        columns[column] = pa.array([f[i] for f in forms], pa.string())
    return pa.table(columns)


Array = pa.Array | pa.ChunkedArray


def _column(table: pa.Table, name: str) -> Array:
    if name in table.column_names:
        return table.column(name)
    return pa.nulls(table.num_rows, pa.string())


def _map_distinct(
    values: Array, fn: Callable, blank: Array | None = None, on_array: bool = False
) -> pa.Array:
    """`fn` applied to each distinct value once (to the array of them when
    `on_array`), then spread back over the rows: a list of millions of voters
    has a few hundred thousand names, a few thousand addresses and a few
    dozen places."""
    values = values.cast(pa.string())
    distinct = pc.unique(values)
    if on_array:
        mapped = fn(distinct)
    else:
        mapped = pa.array([fn(v) for v in distinct.to_pylist()], pa.string())
    return _spread(mapped, pc.index_in(values, value_set=distinct, skip_nulls=False), blank)


def _spread(mapped: pa.Array, index: Array, blank: Array | None = None) -> pa.Array:
    """Row i holds mapped[index[i]] (null where that is null or `blank[i]`), as
    a dictionary array: no copy of the strings per row."""
    if isinstance(index, pa.ChunkedArray):
        index = index.combine_chunks()
    keep = pc.is_valid(mapped).take(index)
    if blank is not None:
        blank = blank.combine_chunks() if isinstance(blank, pa.ChunkedArray) else blank
        keep = pc.and_(keep, pc.invert(blank))
    codes = pc.if_else(keep, index, pa.scalar(None, pa.int32()))
    return pa.DictionaryArray.from_arrays(codes, pc.fill_null(mapped, ""))


def build_frame(
    uids: Array, table: pa.Table, wilayah: Array, blank_address: Array | None
) -> pa.Table:
    """The comparison frame for `table` (events or voters) with given ids.
    The name forms are taken from `table` when it carries all FORM_COLUMNS
    (stored forms, see `name_forms_table`), else computed from `nama`."""
    if all(c in table.column_names for c in FORM_COLUMNS):

        def form(i: int) -> pa.Array:
            column = table.column(FORM_COLUMNS[i]).cast(pa.string())
            return pc.dictionary_encode(column.combine_chunks())

    else:
        nama = _column(table, "nama").cast(pa.string())
        distinct_names = pc.unique(nama)
        forms = [name_forms(n) for n in distinct_names.to_pylist()]
        name_index = pc.index_in(nama, value_set=distinct_names, skip_nulls=False)

        def form(i: int) -> pa.Array:
            return _spread(pa.array([f[i] for f in forms], pa.string()), name_index)

    tanggal = table.column("tanggal_lahir").cast(pa.date32())
    jenis_kelamin = _map_distinct(
        _column(table, "jenis_kelamin"), lambda v: (v or "").upper()[:1] or None
    )
    nik = clean_digits_array(_column(table, "nik"))
    columns = {
        "uid": uids.cast(pa.string()),
        "nik": nik,
        "nik_ok": nik_agrees_array(
            pa.table({"nik": nik, "tanggal_lahir": tanggal, "jenis_kelamin": jenis_kelamin})
        ),
        "nkk": clean_digits_array(_column(table, "nkk")),
        "nama_norm": form(0),
        "nama_sorted": form(1),
        "tanggal_lahir": tanggal,
        "lahir_tahun": pc.year(tanggal).cast(pa.int32()),
        "jenis_kelamin": jenis_kelamin,
        "tempat_lahir": _map_distinct(_column(table, "tempat_lahir"), clean_place),
        "alamat": _map_distinct(
            _column(table, "alamat"), clean_address_array, blank_address, on_array=True
        ),
        "rt": _map_distinct(_column(table, "rt"), clean_rt_rw, blank_address),
        "rw": _map_distinct(_column(table, "rw"), clean_rt_rw, blank_address),
        "wilayah": _map_distinct(wilayah, lambda v: v),
        "bk_first": form(2),
        "bk_sorted": form(3),
    }
    return pa.table(columns, schema=FRAME_SCHEMA)


def event_uid(sumber: str, event_id: str) -> str:
    return f"{sumber}|{event_id}"


def event_uids(events: pa.Table) -> Array:
    """'sumber|event_id' for every event (`event_uid` over a table)."""
    return pc.binary_join_element_wise(
        events.column("sumber").cast(pa.string()), events.column("event_id").cast(pa.string()), "|"
    )


def reference_frame(reference: pa.Table) -> pa.Table:
    """Voters (and future voters) keyed by target_id, compared where they live."""
    return build_frame(
        reference.column("target_id"), reference, reference.column("kode_wilayah"), None
    )


# Rows of the reference made into frame rows at a time when it is streamed.
REFERENCE_BATCH_ROWS = 1_000_000


def table_batches(rows: pa.Table | pa.RecordBatchReader, size: int) -> Iterator[pa.Table]:
    """`rows` as tables of about `size` rows: a table sliced, a stream's
    batches (a warehouse reader yields some 100,000 rows at a time) gathered."""
    if isinstance(rows, pa.Table):
        for start in range(0, rows.num_rows, size):
            yield rows.slice(start, size)
        return
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in rows:
        pending.append(batch)
        count += batch.num_rows
        if count >= size:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def event_frame(events: pa.Table) -> pa.Table:
    """Events keyed by 'sumber|event_id'. A PINDAH is compared at its old desa
    with its (new) address left out."""
    is_pindah = pc.fill_null(
        pc.equal(events.column("jenis_peristiwa").cast(pa.string()), "PINDAH"), False
    )
    tujuan = events.column("kode_wilayah").cast(pa.string())
    asal = _column(events, "kode_wilayah_asal").cast(pa.string())
    wilayah = pc.if_else(pc.and_(is_pindah, pc.is_valid(asal)), asal, tujuan)
    return build_frame(event_uids(events), events, wilayah, is_pindah)
