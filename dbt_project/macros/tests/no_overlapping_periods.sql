{#- Date ranges (start, end inclusive) must not overlap and end >= start. -#}
{% test no_overlapping_periods(model, start_column, end_column) %}

with periods as (

    select
        {{ start_column }} as period_start,
        {{ end_column }} as period_end
    from {{ model }}

),

overlapping as (

    select a.period_start
    from periods as a
    inner join periods as b
        on a.period_start < b.period_start
        and a.period_end >= b.period_start

),

backwards as (

    select period_start
    from periods
    where period_end < period_start

)

select * from overlapping
union all
select * from backwards

{% endtest %}
