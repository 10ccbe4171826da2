"""Noisy-label cross-modal hashing (RSHNL, SCBCH, NRCH, a plain baseline) and per-sample signals.

The entry point is ``hashing.hasher.CrossModalHasher``; methods are found by name in
``hashing.methods.METHODS``; retrieval metrics (numpy only) live in ``hashing.retrieval``;
``hashing.runtime`` holds the process tools (``torch.distributed``) the auditor shares.

This file imports nothing on purpose: ``import hashing.retrieval`` must not pay for torch.
"""
