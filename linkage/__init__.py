"""Record linkage for PDPB: exact NIK pass, Splink 5 prediction, review, dedupe."""
