"""Integration with other graphs: names (the normaliser shared by linking and reconciliation),
reconcile (the matcher behind the Reconciliation Service API at /reconcile)."""
