"""Record linkage for PDPB: exact NIK pass, Splink 5 prediction, review, dedupe.

`link_events` is the link stage's one entry point; `train_model` regenerates
the model JSON kept in git beside this file.
"""

from linkage.link import link_events
from linkage.train import DEFAULT_MODEL_PATH, train_model

__all__ = ["DEFAULT_MODEL_PATH", "link_events", "train_model"]
