"""What the embedding model reads for a chunk: the page title and heading path, then the chunk's text
with each code block cut to its first lines.

Shared by the process stage (which sizes chunks by it) and the embeddings stage (which embeds it), so
the budget the chunker packs to is what the model sees. Code is kept whole in the chunk itself (keyword
search, snippets); a sentence-embedding model gains little from reading a long listing token by token,
and code is the most token-hungry text there is (identifiers split into many word pieces).
"""

from __future__ import annotations

import re

PATH_SEPARATOR = " > "
CODE_EMBED_CHARS = 160  # about 60 tokens of a code block's first lines
_FENCE = re.compile(r"```\n(.*?)\n```", re.S)


def context_line(title: str | None, heading: str | None) -> str:
    return PATH_SEPARATOR.join(part for part in (title, heading) if part)


def abbreviate_code(text: str) -> str:
    """The text with every fenced code block cut after CODE_EMBED_CHARS (on a line boundary)."""

    def cut(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) <= CODE_EMBED_CHARS:
            return match.group(0)
        kept: list[str] = []
        size = 0
        for line in code.splitlines():
            if kept and size + len(line) > CODE_EMBED_CHARS:
                break
            kept.append(line[:CODE_EMBED_CHARS])
            size += len(line) + 1
        return "```\n" + "\n".join(kept) + "\n…\n```"

    return _FENCE.sub(cut, text) if "```" in text else text


def embedding_input(title: str | None, heading: str | None, text: str) -> str:
    context = context_line(title, heading)
    body = abbreviate_code(text)
    return f"{context}\n\n{body}" if context else body
