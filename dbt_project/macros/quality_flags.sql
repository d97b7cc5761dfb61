{#
  The quality report's rule for a figure far outside its usual level
  (docs/publish.md, "Data quality per source"). A figure is compared with its
  median over the last six periods before this one (fewer at the start); it
  needs at least two such periods, because one month is not yet a habit.
  NAIK: at least twice the median and at least `min_abs` above it (a zero
  median with a value of `min_abs` or more is NAIK); TURUN: at most half the
  median and at least `min_abs` below it, only when `up_only` is false (a
  share of bad rows that falls is good news, not a finding). `enough` is a
  condition that the figure rests on enough rows (small counts do not flap).
  For a share, `base` names the count it is a share of, and NAIK also needs
  at least `min_rows` more rows than the median share of that base would
  give (4 late events of 39 against a median of 2% is chance, not a finding).
  Null: not flagged.
#}
{% macro quality_window() %}
    rows between 6 preceding and 1 preceding
{% endmacro %}

{% macro quality_flag(
    value, median, previous, min_abs, enough='true', up_only='false', base='1', min_rows=0
) %}
    case
        when {{ median }} is null or {{ previous }} < 2 or not ({{ enough }}) then null
        when
            {{ value }} >= 2 * {{ median }}
            and {{ value }} - {{ median }} >= {{ min_abs }}
            and ({{ value }} - {{ median }}) * {{ base }} >= {{ min_rows }}
            then 'NAIK'
        when
            not {{ up_only }}
            and {{ value }} <= 0.5 * {{ median }}
            and {{ median }} - {{ value }} >= {{ min_abs }}
            then 'TURUN'
    end
{% endmacro %}
