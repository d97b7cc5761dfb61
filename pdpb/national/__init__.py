"""The national list: one home per province (a shard) under a national home.

A national home holds the national deliveries (`landing/<period>/`), the
national warehouse (routing ledger, reconciliation, national marts), the
national reports and snapshot, and under `provinces/<kode>/` one ordinary
province home each, run by the same code and CLI as a single province.
docs/national.md describes the layout and the flow:

    route -> the provinces' periods (in parallel) -> reconcile -> national recap
"""
