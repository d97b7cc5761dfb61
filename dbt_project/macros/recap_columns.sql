{#
  The recap's count columns in their published order (docs/architecture.md; pdpb.domain holds the same list). Models and
  tests loop over these lists so that the order and the names live in one
  place. Category columns match `kolom_rekap` in the change_rules and
  tms_codes seeds.
#}
{% macro recap_baru_categories() %}
    {{ return([
        'baru_pemilih_pemula', 'baru_pindah_masuk', 'baru_purna_tni_polri',
        'baru_hak_pilih_pulih',
    ]) }}
{% endmacro %}

{% macro recap_tms_categories() %}
    {{ return([
        'tms_meninggal', 'tms_ganda', 'tms_bawah_umur', 'tms_pindah_domisili',
        'tms_wna', 'tms_tni', 'tms_polri', 'tms_salah_tps', 'tms_hak_pilih_dicabut',
    ]) }}
{% endmacro %}

{% macro recap_count_columns() %}
    {{ return(
        ['awal_l', 'awal_p', 'awal_total', 'baru_l', 'baru_p', 'baru_total']
        + recap_baru_categories()
        + ['tms_l', 'tms_p', 'tms_total']
        + recap_tms_categories()
        + ['ubah', 'akhir_l', 'akhir_p', 'akhir_total']
    ) }}
{% endmacro %}

{#
  The sums of a recap level's counts over the rows grouped below it: units
  (kecamatan, desa) and every count column, in contract order.
#}
{% macro recap_sums() %}
    sum(jumlah_kecamatan) as jumlah_kecamatan,
    sum(jumlah_desa) as jumlah_desa,
    {%- for column in recap_count_columns() %}
    sum({{ column }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{% endmacro %}
