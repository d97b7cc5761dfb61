-- Recap counts per period and desa, for the desa where something is counted:
-- pemilih awal and akhir from the history, baru/tms/ubah from the change
-- ledger, all attributed to each record's end-of-period location and sex
-- (docs/contracts-internal.md, "Recap arithmetic").
with aktif as (

    select * from {{ ref('int_pemilih_aktif_counted') }}

),

moves as (

    select * from {{ ref('int_pemilih_awal_reattributed') }}

),

changes as (

    select * from {{ ref('int_changes_attributed') }}

),

pemilih as (

    select period, kode_wilayah, jenis_kelamin, aktif_awal as awal, aktif_akhir as akhir
    from aktif

    union all

    select period, kode_wilayah, jenis_kelamin, awal_delta as awal, 0 as akhir
    from moves

),

pemilih_counted as (

    select
        period,
        kode_wilayah,
        coalesce(sum(awal) filter (where jenis_kelamin = 'L'), 0) as awal_l,
        coalesce(sum(awal) filter (where jenis_kelamin = 'P'), 0) as awal_p,
        coalesce(sum(awal), 0) as awal_total,
        coalesce(sum(akhir) filter (where jenis_kelamin = 'L'), 0) as akhir_l,
        coalesce(sum(akhir) filter (where jenis_kelamin = 'P'), 0) as akhir_p,
        coalesce(sum(akhir), 0) as akhir_total
    from pemilih
    group by period, kode_wilayah

),

changes_counted as (

    select
        period,
        kode_wilayah_rekap as kode_wilayah,
        count(*) filter (where change_type = 'BARU' and jenis_kelamin_rekap = 'L') as baru_l,
        count(*) filter (where change_type = 'BARU' and jenis_kelamin_rekap = 'P') as baru_p,
        count(*) filter (where change_type = 'BARU') as baru_total,
        {% for column in recap_baru_categories() -%}
            count(*) filter (where change_type = 'BARU' and kolom_rekap = '{{ column }}')
                as {{ column }},
        {% endfor -%}
        count(*) filter (where change_type = 'TMS' and jenis_kelamin_rekap = 'L') as tms_l,
        count(*) filter (where change_type = 'TMS' and jenis_kelamin_rekap = 'P') as tms_p,
        count(*) filter (where change_type = 'TMS') as tms_total,
        {% for column in recap_tms_categories() -%}
            count(*) filter (where change_type = 'TMS' and kolom_rekap = '{{ column }}')
                as {{ column }},
        {% endfor -%}
        count(*) filter (where change_type = 'UBAH') as ubah
    from changes
    group by period, kode_wilayah_rekap

),

keys as (

    select period, kode_wilayah from pemilih_counted
    union
    select period, kode_wilayah from changes_counted

),

final as (

    select
        keys.period,
        keys.kode_wilayah,
        {% for column in recap_count_columns() -%}
            cast(coalesce(
                {{ 'pemilih_counted' if column.startswith('awal') or column.startswith('akhir')
                   else 'changes_counted' }}.{{ column }}, 0) as bigint) as {{ column }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from keys
    left join pemilih_counted
        on keys.period = pemilih_counted.period
        and keys.kode_wilayah is not distinct from pemilih_counted.kode_wilayah
    left join changes_counted
        on keys.period = changes_counted.period
        and keys.kode_wilayah is not distinct from changes_counted.kode_wilayah

)

select * from final
