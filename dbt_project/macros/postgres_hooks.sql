{#-
  Model hooks that only act on PostgreSQL (nothing on DuckDB).

  pg_session (pre-hook), for the model's transaction only: more work_mem
  (the default 4MB makes the joins and sorts of a few hundred thousand
  claims spill to disk), and no nested-loop joins. An import CTE used
  twice is materialized by PostgreSQL without statistics, the planner
  then expects one row out of its aggregates and nests loops over
  hundreds of thousands of rows (minutes instead of seconds); hash joins
  are right for every model here. The one range join (rates by date) is
  a nested loop either way; its penalised cost would then trigger JIT
  compilation (seconds, for queries that run in one), so JIT is off too.

  pg_analyze (post-hook): collect statistics on a freshly built table.
  Without them the planner guesses billions of rows for the next model's
  joins, picks disk-based merge joins and spends seconds compiling JIT.
-#}

{% macro pg_session(work_mem='256MB') -%}
    {%- if target.type == 'postgres' -%}
        set local work_mem = '{{ work_mem }}';
        set local enable_nestloop = off;
        set local jit = off
    {%- endif -%}
{%- endmacro %}


{% macro pg_analyze() -%}
    {%- if target.type == 'postgres'
        and model.config.materialized in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
