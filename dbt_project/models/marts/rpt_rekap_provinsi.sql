{{ rekap_rollup('rpt_rekap_kabkota', 'provinsi') }}
