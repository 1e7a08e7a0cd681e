-- F1 Drift (spec 003, warning, for 1h): relative drop of the latest run's mean f1_macro
-- against the mean of the other runs finished in the 7 days before it.  One row, one
-- number: 0.12 means the latest run is 12% worse than its 7-day baseline.
WITH runs AS (
    SELECT run_id, MAX(created_at) AS finished_at, AVG(f1_macro) AS f1
    FROM finetune_results
    GROUP BY run_id
), latest AS (
    SELECT run_id, finished_at, f1 FROM runs ORDER BY finished_at DESC LIMIT 1
), baseline AS (
    SELECT AVG(r.f1) AS f1
    FROM runs r, latest l
    WHERE r.run_id <> l.run_id
      AND r.finished_at >= l.finished_at - INTERVAL '7 days'
)
SELECT COALESCE((b.f1 - l.f1) / NULLIF(b.f1, 0), 0) AS f1_drop_ratio
FROM latest l CROSS JOIN baseline b
