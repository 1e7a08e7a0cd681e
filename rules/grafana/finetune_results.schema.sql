-- The table the ML pipeline writes one row per (run, crypto, cost) into, and that the
-- drift panels and the F1 Drift alert read.  Columns named as in spec 003, section 10.
CREATE TABLE IF NOT EXISTS finetune_results (
    run_id            text        NOT NULL,
    crypto            text        NOT NULL,
    cost_bps          integer     NOT NULL,
    f1_macro          double precision NOT NULL,
    sortino           double precision,
    action_rate       double precision,
    cusum_block_rate  double precision,
    n_train_samples   integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, crypto, cost_bps)
);
CREATE INDEX IF NOT EXISTS finetune_results_created_at ON finetune_results (created_at);
