"""`reconciler watch`: keep the account matching the manifests continuously, reacting to the
platform's webhooks within seconds. Glue over the pipeline, the lock and the typed model: it
decides nothing the planner, the guards or the lock decide."""
