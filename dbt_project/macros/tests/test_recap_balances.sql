{#
  The recap identity of docs/architecture.md on every row: awal + baru - tms = akhir for
  L, P and total; L + P = total; and the categories add up to their totals.
  A failing row means the history and the change ledger disagree.
#}
{% test recap_balances(model) %}

select *
from {{ model }}
where awal_l + baru_l - tms_l <> akhir_l
   or awal_p + baru_p - tms_p <> akhir_p
   or awal_total + baru_total - tms_total <> akhir_total
   or awal_l + awal_p <> awal_total
   or baru_l + baru_p <> baru_total
   or tms_l + tms_p <> tms_total
   or akhir_l + akhir_p <> akhir_total
   or baru_pemilih_pemula + baru_pindah_masuk + baru_purna_tni_polri
      + baru_hak_pilih_pulih <> baru_total
   or tms_meninggal + tms_ganda + tms_bawah_umur + tms_pindah_domisili + tms_wna
      + tms_tni + tms_polri + tms_salah_tps + tms_hak_pilih_dicabut <> tms_total

{% endtest %}
