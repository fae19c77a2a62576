{#-
  Returns the rows whose balance difference is beyond the tolerance.
  Meant for balance columns such as claim_balance_difference, configured
  with severity warn: real 835 files do not always balance, and the
  pipeline reports the difference instead of inventing a balancing line.
-#}
{% test balances_within(model, column_name, tolerance=0) %}

select *
from {{ model }}
where abs({{ column_name }}) > {{ tolerance }}

{% endtest %}
