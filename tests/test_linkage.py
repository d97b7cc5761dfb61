"""Rules of the linkage stage: name normalisation and link_events decisions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from linkage.frames import nik_agrees
from linkage.link import OFF_LIST_PRIOR_FACTOR, link_events
from linkage.names import normalise_name, phonetic_key, sorted_name

REF_COLUMNS = [
    "target_id", "nik", "nkk", "nama", "gelar", "tempat_lahir", "tanggal_lahir",
    "jenis_kelamin", "status_kawin", "alamat", "rt", "rw", "kode_wilayah", "status",
]  # fmt: skip
EVENT_COLUMNS = [
    "sumber", "event_id", "jenis_peristiwa", "tanggal_peristiwa", "nik", "nik_valid", "nkk",
    "nama", "gelar", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "status_kawin",
    "alamat", "rt", "rw", "kode_wilayah", "kode_wilayah_asal",
]  # fmt: skip
DESA = "36.01.01.2001"
NKK = "3601012002170001"


def voter(target_id: str, nik: str, nama: str, lahir: date, jk: str, **extra: object) -> dict:
    row = {
        "target_id": target_id, "nik": nik, "nkk": NKK, "nama": nama, "gelar": None,
        "tempat_lahir": "SERANG", "tanggal_lahir": lahir, "jenis_kelamin": jk,
        "status_kawin": "S", "alamat": "JL. MELATI NO. 12", "rt": "003", "rw": "002",
        "kode_wilayah": DESA, "status": "AKTIF",
    }  # fmt: skip
    row.update(extra)
    return row


def event_of(voter_row: dict, event_id: str, jenis: str = "MENINGGAL", **extra: object) -> dict:
    row = {c: voter_row.get(c) for c in EVENT_COLUMNS}
    row.update(
        sumber="DUKCAPIL", event_id=event_id, jenis_peristiwa=jenis,
        tanggal_peristiwa=date(2026, 1, 10), nik_valid=voter_row["nik"] is not None,
        kode_wilayah_asal=None,
    )  # fmt: skip
    row.update(extra)
    if row["nik"] is None:
        row["nik_valid"] = False
    return row


def household() -> list[dict]:
    """A family, a few neighbours and a twin pair, enough to give the model choices."""
    rows = [
        voter("D01", "3601011203700001", "SUPARMAN", date(1970, 3, 12), "L"),
        voter("D02", "3601015508720002", "SITI AMINAH", date(1972, 8, 15), "P"),
        voter("D03", "3601010105950003", "SUPARMAN", date(1995, 5, 1), "L"),
        voter("D04", "3601012007000004", "HASAN BASRI", date(2000, 7, 20), "L"),
        voter("D05", "3601012007000005", "HUSEN BASRI", date(2000, 7, 20), "L"),
    ]
    for i, (nama, jk) in enumerate(
        [("BUDI SANTOSO", "L"), ("DEWI LESTARI", "P"), ("AGUS SALIM", "L"), ("RINA WATI", "P")]
    ):
        rows.append(
            voter(
                f"D1{i}",
                f"360101{10 + i}0380{1000 + i}",
                nama,
                date(1980, 3, 10 + i),
                jk,
                nkk=f"360101200217{1000 + i}",
                alamat=f"JL. MAWAR NO. {i}",
            )  # fmt: skip
        )
    return rows


def table(rows: list[dict], columns: list[str]) -> pa.Table:
    return pa.table({c: [r.get(c) for r in rows] for c in columns})


def run(events: list[dict], voters: list[dict], **kwargs: object) -> dict[str, dict]:
    result = link_events(
        table(events, EVENT_COLUMNS), table(voters, REF_COLUMNS), upper=0.99, lower=0.5, **kwargs
    )
    return {r["event_id"]: r for r in result.to_pylist()}


# --- names --------------------------------------------------------------------


def test_titles_and_muhammad_variants_normalise_to_one_form():
    assert normalise_name("H. MOCH. SOEKARNO, S.PD., M.M") == normalise_name("MUHAMMAD SUKARNO")


def test_old_spelling_and_doubled_letters_are_modernised():
    assert normalise_name("DJOKO TJAHJONO") == normalise_name("JOKO CAHYONO".replace("Y", "J"))
    assert normalise_name("SITTI") == "SITI"


def test_bin_is_dropped_but_father_name_kept():
    assert normalise_name("AHMAD BIN YUSUF") == "AHMAD YUSUF"


def test_sorted_form_ignores_token_order():
    assert sorted_name("BASRI HASAN") == sorted_name("HASAN BASRI")


def test_spelling_families_share_a_phonetic_key():
    assert phonetic_key("SYAIFUL") == phonetic_key("SAIPUL")


# --- link_events ----------------------------------------------------------------


def test_result_has_one_row_per_event_in_input_order():
    voters = household()
    events = [event_of(voters[0], "E1"), event_of(voters[6], "E2")]
    result = link_events(
        table(events, EVENT_COLUMNS), table(voters, REF_COLUMNS), upper=0.99, lower=0.5
    )
    assert result.column("event_id").to_pylist() == ["E1", "E2"]


def test_twin_without_nik_is_not_linked_to_the_other_twin():
    voters = household()
    event = event_of(voters[3], "E1", nik=None)  # HASAN, twin of HUSEN
    out = run([event], voters)
    assert out["E1"]["target_id"] != "D05"


def test_son_with_father_name_links_to_the_son_by_birth_date():
    voters = household()
    event = event_of(voters[2], "E1", nik=None)  # SUPARMAN born 1995
    out = run([event], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "D03")


def test_nik_of_a_clearly_different_person_goes_to_review_with_flag():
    voters = household()
    stranger = voter("X", voters[1]["nik"], "BAMBANG PAMUNGKAS", date(1960, 1, 2), "L")
    event = event_of(stranger, "E1", nkk="3601019999990001", alamat="JL. JAUH 1")
    out = run([event], voters)
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "NIK_MISUSE_SUSPECTED"


def test_typo_in_name_with_right_nik_and_birth_date_links_by_nik():
    voters = household()
    event = event_of(voters[1], "E1", nama="SITI AMNAH")
    out = run([event], voters)
    assert (out["E1"]["decision"], out["E1"]["match_method"]) == ("LINK", "NIK_EXACT")
    assert out["E1"]["target_id"] == "D02"


def test_event_without_nik_links_by_name_birth_date_and_region():
    voters = household()
    event = event_of(voters[6], "E1", nik=None, nkk=None, nama="DEWI LESTARY")
    out = run([event], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "D11")
    assert out["E1"]["match_method"] == "SPLINK"


def test_death_reported_by_two_sources_gives_one_link_and_one_duplicate():
    voters = household()
    first = event_of(voters[0], "E1")
    second = event_of(voters[0], "M7", sumber="MASYARAKAT", nik=None)
    out = run([second, first], voters)
    assert out["E1"]["decision"] == "LINK"
    assert out["M7"]["decision"] == "DUPLICATE_EVENT"
    assert out["M7"]["duplicate_of"] == "DUKCAPIL|E1"


def test_person_registered_twice_links_to_the_active_record():
    voters = household() + [voter("D00", None, "SUPARMAN", date(1970, 3, 12), "L", status="TMS")]
    voters[0]["nik"] = None
    event = event_of(voters[0], "E1", nik=None)
    out = run([event], voters)
    assert out["E1"]["target_id"] == "D01"


@pytest.mark.parametrize(("keputusan", "decision"), [("SAMA", "LINK"), ("BEDA", "NEW")])
def test_review_decisions_are_applied(keputusan: str, decision: str):
    voters = household()
    stranger = voter("X", voters[1]["nik"], "BAMBANG PAMUNGKAS", date(1960, 1, 2), "L")
    event = event_of(stranger, "E1", nkk="3601019999990001")
    decisions = pa.table(
        {"sumber": ["DUKCAPIL"], "event_id": ["E1"], "target_id": ["D02"], "keputusan": [keputusan]}
    )
    out = run([event], voters, decisions=decisions)
    assert out["E1"]["decision"] == decision
    assert out["E1"]["match_method"] == "REVIEW_DECISION"


def test_pindah_is_compared_at_the_old_desa_and_links():
    voters = household()
    event = event_of(
        voters[7], "E1", jenis="PINDAH", nik=None, kode_wilayah="36.02.01.2001",
        kode_wilayah_asal=DESA, alamat="JL. BARU NO. 9", rt="001", rw="001",
    )  # fmt: skip
    out = run([event], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "D12")


# --- rules against linking a relative -------------------------------------------


def test_nik_that_contradicts_its_own_birth_date_or_sex_is_not_trusted():
    assert nik_agrees("3601015508720002", date(1972, 8, 15), "P")
    assert not nik_agrees("3601015508720002", date(1972, 8, 15), "L")  # day + 40 is a woman
    assert not nik_agrees("3601015508720002", date(1975, 8, 15), "P")  # a relative's NIK
    assert not nik_agrees("3601015508720000", None, None)  # serial 0000


def test_new_seventeen_year_old_is_not_linked_to_a_parent_in_the_household():
    voters = household()
    # The son carries his father's exact name and everything of the household
    # (card, address, RT/RW, desa); only his own NIK and birth date differ.
    child = voter("X", "3601010501090007", "SUPARMAN", date(2009, 1, 5), "L", status_kawin="B")
    daughter = voter("Y", "3601014502090008", "NUR AINI", date(2009, 2, 5), "P", status_kawin="B")
    out = run(
        [
            event_of(child, "E1", jenis="PENDUDUK_BARU"),
            event_of(daughter, "E2", jenis="PENDUDUK_BARU"),
        ],
        voters,
    )
    assert (out["E1"]["decision"], out["E2"]["decision"]) == ("NEW", "NEW")


def test_valid_but_different_nik_is_never_linked_automatically():
    voters = household()
    # Name, birth date, sex and household all agree with D01, but the event's
    # NIK (valid, agreeing with its own row) is another person's number.
    event = event_of(voters[0], "E1", nik="3674031203709999")
    out = run([event], voters)
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["target_id"] == "D01"


def test_birth_years_apart_with_another_first_name_is_never_the_same_person():
    voters = household()
    # No NIK, the household's card and address, the twins' family name: a
    # sibling born five years later is not HASAN or HUSEN BASRI.
    event = event_of(voters[3], "E1", nik=None, nama="AGUS BASRI", tanggal_lahir=date(2005, 7, 20))
    out = run([event], voters)
    assert out["E1"]["decision"] == "NEW"


def test_death_with_a_relatives_nik_is_linked_to_the_person_described():
    voters = household()
    # SITI AMINAH's death reported with her husband's NIK: the NIK holder is
    # alive; the change belongs to the person the row describes.
    event = event_of(voters[1], "E1", nik=voters[0]["nik"])
    out = run([event], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "D02")
    assert out["E1"]["flag"] == "NIK_MISUSE_SUSPECTED"


def test_events_about_people_usually_off_the_list_get_a_lower_prior():
    voters = household()
    same = {"nik": None, "nama": "DEWI LESTARY"}
    kawin = event_of(voters[6], "E1", jenis="KAWIN", **same)
    baru = event_of(voters[6], "E2", jenis="PENDUDUK_BARU", **same)
    out = run([kawin, baru], voters)
    p_kawin, p_baru = out["E1"]["match_probability"], out["E2"]["match_probability"]
    odds_ratio = (p_baru / (1 - p_baru)) / (p_kawin / (1 - p_kawin))
    # (probabilities near 1 keep few digits of 1 - p, hence the tolerance)
    assert odds_ratio == pytest.approx(OFF_LIST_PRIOR_FACTOR, rel=1e-4)


# --- a NIK on the wrong record, namesakes, a person registered twice ------------------


def test_nik_on_two_records_links_to_the_one_that_agrees_with_the_event():
    voters = household()
    # A kecamatan-mate born the same day (serial 0001 against 0002): a typo in
    # his record gave him D04 HASAN's NIK, and his dpid sorts first.
    mate = voter("C01", voters[3]["nik"], "HERMAN", date(2000, 7, 20), "L", nkk=None,
                 kode_wilayah="36.01.01.2002", alamat="KP. LAIN")  # fmt: skip
    out = run([event_of(voters[3], "E1")], [mate, *voters])
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "D04")
    assert out["E1"]["match_method"] == "NIK_EXACT"


def test_nik_corroborated_only_by_the_birth_date_it_encodes_goes_to_review():
    voters = household()
    # The only holder of the event's NIK agrees on the birth date (which the
    # NIK itself encodes) and on nothing else: no name, card or desa in common.
    mate = voter("C01", "3601012007000009", "HERMAN", date(2000, 7, 20), "L", nkk=None,
                 kode_wilayah="36.01.01.2002", alamat="KP. LAIN")  # fmt: skip
    person = voter("Z", "3601012007000009", "YUSUF MAULANA", date(2000, 7, 20), "L",
                   nkk="3601012811150003", kode_wilayah="36.01.01.2003", alamat="JL. JATI 3")  # fmt: skip
    out = run([event_of(person, "E1")], [mate, *voters])
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "NIK_MISUSE_SUSPECTED"


def test_namesake_born_the_same_day_in_another_kecamatan_is_not_linked():
    voters = household()
    # Same name, birth date, sex and birthplace; his own trusted NIK is one
    # digit away (kecamatan 01 against 07), another card, another kecamatan.
    namesake = voter("N01", "3601071203700001", "SUPARMAN", date(1970, 3, 12), "L",
                     nkk="3601071504100002", kode_wilayah="36.01.07.2004", alamat="KP. JAUH")  # fmt: skip
    event = event_of(voters[0], "E1", nik="3601011203700001")
    event.update(nkk="3601011111110001", kode_wilayah="36.01.01.2009", alamat="KP. BARU")
    out = run([event], [namesake, *voters[1:]])
    assert out["E1"]["decision"] != "LINK"


def test_person_registered_twice_event_goes_to_the_record_with_its_own_nik():
    voters = household()
    # An older registration of BUDI with the same card, dpid first, with a NIK
    # one digit short: the death belongs on the record whose NIK is its own.
    budi = voters[5]
    older = voter("D00", budi["nik"][:15], "BUDI SANTOSO", budi["tanggal_lahir"], "L",
                  nkk=budi["nkk"], alamat=budi["alamat"])  # fmt: skip
    out = run([event_of(budi, "E1", nik=None)], [older, *voters])
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "D10")


def test_namesake_of_the_same_desa_with_a_nik_one_serial_away_is_not_linked():
    # The person's own record has no NIK but the event's family card and
    # address; a namesake of the desa born the same day holds serial 0001 of
    # the event's 0003 (sequential serials of one kecamatan and birth date)
    # under another card. Seen at Jawa Barat scale as a death on the namesake.
    voters = household()
    own = voter("T01", None, "SUPARMAN", date(1970, 3, 12), "L")
    namesake = voter("N01", "3601011203700001", "SUPARMAN", date(1970, 3, 12), "L",
                     nkk="3601011504100002", alamat="KP. JAUH")  # fmt: skip
    event = event_of(own, "E1", nik="3601011203700003", nik_valid=True)
    out = run([event], [own, namesake, *voters[1:]])
    assert (out["E1"]["decision"], out["E1"]["target_id"]) != ("LINK", "N01")


def test_nik_holder_whose_birth_date_contradicts_the_nik_is_not_linked_on_the_name_alone():
    # A namesake two years younger, of another desa and card, carries the
    # event's NIK, which encodes the event's birth date, not his: a copied
    # NIK. The person's own record (no NIK) shares the event's card and date.
    voters = household()
    own = voter("T01", None, "HASAN BASRI", date(2000, 7, 20), "L", nkk="3601011001050009")
    holder = voter("H01", "3601012007000009", "HASAN BASRI", date(2002, 7, 20), "L",
                   nkk="3601011504100002", kode_wilayah="36.01.01.2005", alamat="KP. JAUH")  # fmt: skip
    event = event_of(own, "E1", nik="3601012007000009", nik_valid=True)
    out = run([event], [own, holder, *voters])
    assert (out["E1"]["decision"], out["E1"]["target_id"]) != ("LINK", "H01")


def test_a_reference_streamed_in_batches_links_as_the_whole_table(period_home, monkeypatch):
    """The link stage reads a province's list as a stream and builds its
    frame a batch at a time, each batch's coded columns with their own
    dictionaries: the decisions are those of the list read whole."""
    import linkage.names
    from pdpb.linking import read_link_inputs
    from pdpb.warehouse import connect

    monkeypatch.setattr(linkage.frames, "REFERENCE_BATCH_ROWS", 500)
    con = connect(period_home, read_only=True)
    try:
        events, stream, _, _ = read_link_inputs(con, "2026-01")
        batches = list(stream)
        streamed = link_events(
            events, pa.RecordBatchReader.from_batches(batches[0].schema, batches),
            upper=0.99, lower=0.5,
        )  # fmt: skip
        monkeypatch.setattr(linkage.frames, "REFERENCE_BATCH_ROWS", 10**9)
        events, stream, _, _ = read_link_inputs(con, "2026-01")
        whole = link_events(events, stream.read_all().combine_chunks(), upper=0.99, lower=0.5)
    finally:
        con.close()
    assert len(batches) > 4
    assert streamed.num_rows == events.num_rows > 0
    assert streamed.equals(whole)
    # (re-linked after the period ran, so the period's new records are on the list)
    assert "LINK" in set(streamed.column("decision").to_pylist())
    assert len(set(streamed.column("decision").to_pylist())) > 1


def test_the_stage_links_from_stored_name_forms_and_the_reachable_records_as_from_the_whole_list(
    period_home,
):
    """The link stage reads the stored name forms and only the records an
    event can reach, selected in the warehouse, with the whole list's counts:
    its decisions are those of the whole list with every form computed."""
    import json

    from pdpb.linking import read_link_inputs
    from pdpb.warehouse import connect

    model = json.loads(period_home.model_path.read_text())
    con = connect(period_home, read_only=True)
    try:
        events, stream, _, counts = read_link_inputs(con, "2026-01", model)
        reachable = stream.read_all()
        staged = link_events(events, reachable, upper=0.99, lower=0.5, counts=counts)
        events, stream, _, none = read_link_inputs(con, "2026-01")
        whole = stream.read_all()
        computed = link_events(events, whole, upper=0.99, lower=0.5)
    finally:
        con.close()
    assert none is None
    assert counts.records == whole.num_rows > reachable.num_rows > 0
    assert {"nama_norm", "bk_first"} <= set(reachable.column_names) - set(whole.column_names)
    assert staged.equals(computed)
    assert "LINK" in set(staged.column("decision").to_pylist())
    assert len(set(staged.column("decision").to_pylist())) > 1


def test_name_forms_are_computed_once_per_name_and_again_when_their_code_changes(
    period_home, tmp_path, monkeypatch
):
    import json
    import shutil

    import linkage.names
    from pdpb.config import PdpbError, Settings
    from pdpb.linking import read_link_inputs, refresh_name_forms
    from pdpb.warehouse import connect

    settings = Settings.load(tmp_path / "home")
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(period_home.warehouse_path, settings.warehouse_path)
    model = json.loads(settings.model_path.read_text())
    con = connect(settings)
    try:
        stored = con.execute("select count(*) from core.name_forms").fetchall()[0][0]
        assert stored > 0
        assert refresh_name_forms(con, "2026-01") == 0  # the period's run stored them all
        con.execute("update core.voters set nama = 'SITI NURHALIZA BINTI ABDUL' where dpid = "
                    "(select min(dpid) from core.voters)")  # fmt: skip
        con.execute("delete from core.name_forms where nama = 'SITI NURHALIZA BINTI ABDUL'")
        with pytest.raises(PdpbError, match="no stored name forms"):
            read_link_inputs(con, "2026-01", model)
        assert refresh_name_forms(con, "2026-01") == 1
        row = con.execute(
            "select nama_norm, bk_first from core.name_forms where nama = 'SITI NURHALIZA BINTI ABDUL'"
        ).fetchall()
        assert row == [(normalise_name("SITI NURHALIZA BINTI ABDUL"),
                        phonetic_key(normalise_name("SITI NURHALIZA BINTI ABDUL").split()[0]))]  # fmt: skip
        names = con.execute(
            """select count(distinct nama) from (select nama from core.voters
               union all select nama from core.future_voters where closed_period is null
               union all select nama from core.events where period = '2026-01')"""
        ).fetchall()[0][0]
        monkeypatch.setattr(linkage.names, "NAME_FORMS_VERSION", "changed-code")
        assert refresh_name_forms(con, "2026-01") == names
        versions = con.execute("select distinct forms_version from core.name_forms").fetchall()
        assert versions == [("changed-code",)]
    finally:
        con.close()


@pytest.mark.parametrize("dropped", [None, "bk_first"])
def test_splink_settings_validation_finds_every_model_column_in_the_comparison_frame(dropped):
    """link_events skips Splink's settings validation each period (it only
    warns); here it runs once on the frame's schema, and a frame lacking a
    blocking key is reported."""
    import json
    import logging

    import duckdb
    from splink import DuckDBAPI, Linker

    from linkage.frames import FRAME_SCHEMA
    from linkage.train import DEFAULT_MODEL_PATH

    frame = FRAME_SCHEMA.empty_table()
    if dropped:
        frame = frame.drop_columns([dropped])
    con = duckdb.connect()
    con.register("frame_arrow", frame)
    con.execute("create table frame as select * from frame_arrow")
    sdf = DuckDBAPI(con).register("frame", table_name="pdpb_frame")
    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logging.getLogger("splink").addHandler(handler)
    try:
        model = json.loads(DEFAULT_MODEL_PATH.read_text())
        Linker(sdf, model, log_level=logging.WARNING, validate_settings=True)
    finally:
        logging.getLogger("splink").removeHandler(handler)
        con.close()
    if dropped:
        assert any(dropped in w for w in warnings)
    else:
        assert warnings == []


def test_addresses_cleaned_in_arrow_match_the_python_rule():
    """`clean_address_array` (Arrow, for a province's distinct addresses) is
    `clean_address` value by value, non-ASCII letters included."""
    import random
    import string

    from linkage.frames import clean_address, clean_address_array

    rnd = random.Random(7)
    alphabet = string.ascii_letters + string.digits + " .,-_/\t" + "ßéıﬁ"
    words = ["JALAN", "JLN", "GANG", "KAMPUNG", "KAMP", "jalan", "Gg", "kp", "JL."]
    cases = ["JL. MELATI NO. 12", "kampung jalanan", "Jl. Straße 5", "", None, "  "]
    for _ in range(3000):
        parts = [
            rnd.choice(words)
            if rnd.random() < 0.4
            else "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
            for _ in range(rnd.randint(0, 5))
        ]
        cases.append(rnd.choice([" ", ".", "-", "_", "  "]).join(parts))
    cleaned = clean_address_array(pa.array(cases, pa.string())).to_pylist()
    assert cleaned == [clean_address(c) for c in cases]
    assert cleaned[:3] == ["JL MELATI NO 12", "KP JALANAN", "JL STRASSE 5"]


# --- twins and relatives of one household -------------------------------------------


def twins() -> list[dict]:
    """A household with twins one letter apart (NIK serials 0001/0002), their
    father and a son who carries the father's name."""
    born = date(2004, 6, 9)
    return [
        voter("K01", "3601014906040001", "RINA WATI", born, "P", status_kawin="B"),
        voter("K02", "3601014906040002", "RINI WATI", born, "P", status_kawin="B"),
        voter("K03", "3601011203700001", "SUPARMAN", date(1970, 3, 12), "L"),
        voter("K04", "3601010105950003", "SUPARMAN", date(1995, 5, 1), "L"),
        *household()[5:],
    ]


def test_twin_death_with_her_own_nik_removes_that_twin():
    voters = twins()
    out = run([event_of(voters[0], "E1")], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "K01")


def test_twin_death_without_nik_and_a_name_between_both_twins_goes_to_review():
    voters = twins()
    # RINAI: one letter from each twin, exactly neither.
    out = run([event_of(voters[0], "E1", nik=None, nama="RINAI WATI")], voters)
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "KEMUNGKINAN_KEMBAR"


def test_twin_death_without_nik_and_her_exact_name_links_to_her():
    voters = twins()
    out = run([event_of(voters[1], "E1", nik=None)], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "K02")


def test_death_with_the_other_twins_nik_goes_to_review():
    voters = twins()
    # RINA's death reported with RINI's NIK: the NIK names one twin, the name
    # and everything else the other; only a person can tell.
    out = run([event_of(voters[0], "E1", nik=voters[1]["nik"])], voters)
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "KEMUNGKINAN_KEMBAR"


def test_a_nik_one_serial_away_is_never_linked_even_with_the_same_name_and_card():
    voters = twins()
    # The event's NIK is serial 0003 of the twins' kecamatan and birth date:
    # a third person born that day, or a typo; never an automatic link.
    out = run([event_of(voters[0], "E1", nik="3601014906040003")], voters)
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "KEMUNGKINAN_KEMBAR"


def test_sons_death_reported_with_his_fathers_nik_is_not_linked_to_the_father():
    voters = twins()
    out = run([event_of(voters[3], "E1", nik=voters[2]["nik"])], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) != ("LINK", "K03")
    assert out["E1"]["decision"] == "REVIEW"


def test_fathers_own_death_links_to_the_father_not_the_son_of_his_name():
    voters = twins()
    out = run([event_of(voters[2], "E1"), event_of(voters[2], "E2", nik=None)], voters)
    assert (out["E1"]["decision"], out["E1"]["target_id"]) == ("LINK", "K03")
    assert (out["E2"]["decision"], out["E2"]["target_id"]) in (
        ("LINK", "K03"),
        ("DUPLICATE_EVENT", "K03"),
    )


def test_twins_turning_17_in_one_period_with_their_own_niks_are_two_people():
    born = date(2009, 1, 20)
    rina = voter("X1", "3601016001090001", "RINA WATI", born, "P", status_kawin="B")
    rini = voter("X2", "3601016001090002", "RINI WATI", born, "P", status_kawin="B")
    events = [event_of(p, f"E{i}", jenis="PENDUDUK_BARU") for i, p in enumerate((rina, rini))]
    out = run(events, household())
    assert (out["E0"]["decision"], out["E1"]["decision"]) == ("NEW", "NEW")


def test_two_namesakes_born_the_same_day_in_one_desa_leave_a_report_without_nik_to_review():
    # Seen at Banten scale: two men named JAHRI SUHENDRA, both recorded
    # 01-07-1955 (an unknown date), one desa, two cards, NIKs 0033 and 0034.
    # A residents' report of a move, with no NIK, card or address, fits both.
    born = date(1955, 7, 1)
    one = voter("J1", "3601010107550033", "JAHRI SUHENDRA", born, "L", nkk="3601012906080006")
    two = voter("J2", "3601010107550034", "JAHRI SUHENDRA", born, "L", nkk="3601010604220005",
                alamat="JL. SYEKH NAWAWI NO. 140")  # fmt: skip
    event = event_of(two, "E1", jenis="PINDAH", sumber="MASYARAKAT", nik=None, nkk=None,
                     alamat=None, rt=None, rw=None, kode_wilayah="36.02.01.2001",
                     kode_wilayah_asal=DESA)  # fmt: skip

    out = run([event], [one, two, *household()])

    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "ORANG_SENAMA"


def test_husbands_death_with_his_wifes_nik_when_both_carry_a_default_birth_date():
    # An elderly couple recorded 31-12-1953 (an unknown date): the husband's
    # death reported with the wife's NIK agrees with her record on the birth
    # date and the card, but the name and sex are his.
    born = date(1953, 12, 31)
    husband = voter("S1", "3674073112530001", "DEDI MULYANA", born, "L")
    wife = voter("S2", "3603327112530001", "IMAS", born, "P")

    out = run([event_of(husband, "E1", nik=wife["nik"])], [husband, wife, *household()[5:]])

    assert (out["E1"]["decision"], out["E1"]["target_id"]) != ("LINK", "S2")
    assert out["E1"]["decision"] == "REVIEW"
    assert out["E1"]["flag"] == "KELUARGA_MIRIP"


def _names_module_from(source: str, tmp_path, name: str):
    import importlib.util

    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_name_forms_version_follows_the_rules_not_the_comments(tmp_path):
    import linkage.names as names

    source = Path(names.__file__).read_text()
    commented = _names_module_from("# a new comment\n" + source, tmp_path, "names_commented")
    assert commented.NAME_FORMS_VERSION == names.NAME_FORMS_VERSION
    # One more old spelling makes names come out differently: stored forms are stale.
    changed = source.replace('("OE", "U"),', '("OE", "U"),\n    ("KH", "H"),', 1)
    assert changed != source
    ruled = _names_module_from(changed, tmp_path, "names_ruled")
    assert ruled.NAME_FORMS_VERSION != names.NAME_FORMS_VERSION
    # normalise_name and sorted_name are the stored forms, not a second implementation.
    for nama in ("H. MOCH. SOEKARNO, S.PD.", "SITI BINTI AHMAD", "Rofi'i  Amin"):
        forms = names.name_forms(nama)
        assert (names.normalise_name(nama), names.sorted_name(nama)) == forms[:2]
