"""Process-level tools shared by ``hashing`` and ``auditor``: no hashing method lives here.

``hashing.runtime.distributed`` joins and leaves a ``torch.distributed`` process group and
splits work across its ranks; the hasher's data-parallel training and the auditor's sharded
encoding both use it. Import the submodule you need: this package imports nothing itself.
"""
