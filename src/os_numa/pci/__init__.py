"""PCI devices as the fit sees them: the host's devices (:mod:`.devices`), their pools
(:mod:`.stats`) and what a guest asks for (:mod:`.request`). The device search is part of
the fit (:mod:`os_numa.fit.device_search`)."""
