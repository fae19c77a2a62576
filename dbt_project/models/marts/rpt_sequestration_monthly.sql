{#-
  Medicare FFS sequestration per payer, payee and service month, from
  int_sequestration_assessments (one row per claim or line checked).
  Repeated payments (is_duplicate_payment) are left out. Reversals stay
  in, so an original, its reversal and the correction net to the
  corrected amounts. The body is macros/sequestration_rollup.sql.
-#}

{{ sequestration_rollup('service_date', 'service_month') }}
