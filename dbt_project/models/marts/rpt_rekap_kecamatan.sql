{{ rekap_rollup('rpt_rekap_desa', 'kecamatan') }}
