"""Imported once by the process pool's forkserver (not on Linux, where workers are forked from the
parent itself): every worker forked from it starts warm.

Importing trafilatura, datasketch (scipy) and the tokenizers takes ~1 s of CPU: paid here once per
parent process instead of once per worker (and per restarted worker). py3langid's model (~0.7 s) is
not loaded here: most pages declare their language, and a worker that needs it loads it once.
"""

from __future__ import annotations

import harvest.process.pool  # noqa: F401  (the workers' code, imported before any fork)
