{{ rekap_rollup('rpt_rekap_kecamatan', 'kabkota') }}
