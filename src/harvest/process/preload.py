"""Imported once by the process pool's forkserver: every worker forked from it starts warm.

Importing trafilatura and loading py3langid's model take ~2 s; paid here once per parent process
instead of once per worker (and per restarted worker).
"""

from __future__ import annotations

import py3langid

import harvest.process.pool  # noqa: F401  (the workers' code, imported before any fork)

py3langid.classify("a warm-up sentence, so the language model is loaded before the workers fork")
