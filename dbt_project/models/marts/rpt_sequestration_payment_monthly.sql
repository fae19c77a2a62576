{#-
  Medicare FFS sequestration per payer, payee and payment month (BPR16),
  to tie out to bank deposits: the figures of rpt_sequestration_monthly
  grouped by when the money arrived. Repeated payments are left out;
  reversals net against their originals. The body is
  macros/sequestration_rollup.sql.
-#}

{{ sequestration_rollup('payment_date', 'payment_month') }}
