"""Noisy-label cross-modal hashing (RSHNL, SCBCH, NRCH, a plain baseline) and per-sample signals.

Depends on torch and numpy, plus faiss-cpu for the neighbour search of ``hashing.neighbours``
(exact ``IndexFlatIP``, an inverted-file index above 20,000 rows); no Parquet, no CLI, no
cleanlab. The
method specifications are in docs/methods.md.

The entry point is ``hashing.hasher.CrossModalHasher``; methods are found by name in
``hashing.methods.METHODS``; retrieval metrics (numpy only) live in ``hashing.retrieval``;
``hashing.runtime`` holds the process tools (``torch.distributed``) the auditor shares.

This file imports nothing on purpose: ``import hashing.retrieval`` must not pay for torch.
"""
