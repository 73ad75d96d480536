"""Main text of structured pages (documentation, articles) with headings, code, lists, definition lists
and tables intact.

The content root is found by descending from <body>, with boilerplate removed (navigation, sidebars,
headers, footers, permalink signs), into the child that holds nearly all the text, stopping at the
first element that carries a heading of its own: the section the page is about. Pages without such a
root (no headings, text spread across the page) are left to trafilatura's boilerplate removal.

The text is written the way the chunker reads it: `#`-headings on their own line, paragraphs separated
by blank lines, code in fenced blocks with its line breaks (and no blank lines inside, so a block never
splits), a definition's term on the line above its first paragraph, table rows as `cell | cell`.
Nothing is escaped: this is text to index and embed, not markdown to render.
"""

from __future__ import annotations

import re

from lxml import etree, html

MIN_ROOT_CHARS = 200
DOMINANT_SHARE = 0.8

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_DROP_TAGS = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "aside",
    "footer",
    "form",
    "button",
    "select",
    "input",
    "textarea",
    "iframe",
    "object",
    "canvas",
    "map",
    "head",
    "link",
    "meta",
}
_DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "menu", "menubar"}
# class or id words of page furniture, in documentation generators and blog themes alike
_BOILERPLATE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navheader|navfooter|navigation|sidebar|sphinxsidebar|breadcrumbs?|"
    r"footer|related|menu|skip-?link|headerlink|viewcode-link|toc|tocwrapper|cookies?|share|social|"
    r"pager|pagination|global-nav|searchbox)(?:$|[\s_-])",
    re.I,
)
_PERMALINK_SIGNS = "¶§#🔗"
_BLOCKS = _HEADINGS | {
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "blockquote",
    "figure",
    "figcaption",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "caption",
    "pre",
    "hr",
    "details",
    "summary",
    "center",
    "address",
    "fieldset",
    "hgroup",
    "body",
}
_SPACES = re.compile(r"\s+")


def structured_text(document: str | bytes | html.HtmlElement) -> str | None:
    """The page's main text, or None when no structured content root stands out. A parsed tree given
    is changed (boilerplate removed)."""
    if isinstance(document, str | bytes):
        try:
            tree = html.fromstring(document)
        except (etree.ParserError, ValueError):
            return None
    else:
        tree = document
    body = tree.find(".//body") if tree.tag != "body" else tree
    if body is None:
        return None
    _drop_boilerplate(body)
    root = _content_root(body)
    if root is None:
        return None
    blocks = _Renderer().render(root)
    text = "\n\n".join(blocks).strip()
    return text if len(text) >= MIN_ROOT_CHARS else None


def _drop_boilerplate(body: html.HtmlElement) -> None:
    doomed = []
    for element in body.iter():
        if not isinstance(element.tag, str):  # comments, processing instructions
            doomed.append(element)
            continue
        tag = element.tag.lower()
        if tag in _DROP_TAGS or (element.get("role") or "").lower() in _DROP_ROLES:
            doomed.append(element)
            continue
        if tag == "header" and not any(h.tag in _HEADINGS for h in element.iter()):
            doomed.append(element)
            continue
        marks = f"{element.get('class') or ''} {element.get('id') or ''}"
        if marks.strip() and _BOILERPLATE.search(marks) and tag not in {"body", "html"}:
            doomed.append(element)
    for element in doomed:
        _remove(element)


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():  # the text after an element belongs to its parent
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def _text_size(element: html.HtmlElement) -> int:
    return len(_SPACES.sub("", element.text_content()))


def _has_own_heading(element: html.HtmlElement) -> bool:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag in _HEADINGS:
            return True
        if child.tag in {"header", "hgroup"} and any(h.tag in _HEADINGS for h in child.iter()):
            return True
    return False


def _content_root(body: html.HtmlElement) -> html.HtmlElement | None:
    node = body
    while not _has_own_heading(node):
        total = _text_size(node)
        children = [c for c in node if isinstance(c.tag, str)]
        if total == 0 or not children:
            return None
        biggest = max(children, key=_text_size)
        if _text_size(biggest) < DOMINANT_SHARE * total or not _has_heading(biggest):
            break  # the text is spread over several parts: this node is the content
        node = biggest
    if not _has_heading(node) or _text_size(node) < MIN_ROOT_CHARS:
        return None
    return node


def _has_heading(element: html.HtmlElement) -> bool:
    return any(isinstance(e.tag, str) and e.tag in _HEADINGS for e in element.iter())


def _inline(element: html.HtmlElement) -> str:
    return _SPACES.sub(" ", element.text_content()).strip()


class _Renderer:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.buffer: list[str] = []

    def render(self, root: html.HtmlElement) -> list[str]:
        self._children(root)
        self._flush()
        return self.blocks

    def _flush(self) -> None:
        text = _SPACES.sub(" ", "".join(self.buffer)).strip()
        self.buffer = []
        if text:
            self.blocks.append(text)

    def _children(self, element: html.HtmlElement) -> None:
        if element.text:
            self.buffer.append(element.text)
        for child in element:
            if isinstance(child.tag, str):
                self._element(child)
            if child.tail:
                self.buffer.append(child.tail)

    def _element(self, element: html.HtmlElement) -> None:
        tag = element.tag.lower()
        if tag == "br":
            self.buffer.append(" ")
            return
        if tag == "img":
            return
        if tag not in _BLOCKS:
            self._children(element)  # inline: its text joins the paragraph
            return
        self._flush()
        if tag in _HEADINGS:
            title = _inline(element).rstrip(_PERMALINK_SIGNS + " ").strip()
            if title:
                self.blocks.append("#" * int(tag[1]) + " " + title)
        elif tag == "pre":
            lines = [line.rstrip() for line in element.text_content().splitlines()]
            code = "\n".join(line for line in lines if line.strip())
            if code:
                self.blocks.append(f"```\n{code}\n```")
        elif tag in {"ul", "ol"}:
            self._list(element)
        elif tag == "dl":
            self._definitions(element)
        elif tag == "table":
            self._table(element)
        elif tag == "hr":
            pass
        else:
            self._children(element)
            self._flush()

    def _list(self, element: html.HtmlElement) -> None:
        lines: list[str] = []
        for item in element:
            if not isinstance(item.tag, str) or item.tag != "li":
                continue
            if not any(isinstance(e.tag, str) and e.tag in _BLOCKS for e in item.iterdescendants()):
                if text := _inline(item):
                    lines.append(f"- {text}")
                continue
            # an item with paragraphs, code or a nested list: its blocks follow, the first one marked
            if lines:
                self.blocks.append("\n".join(lines))
                lines = []
            start = len(self.blocks)
            self._children(item)
            self._flush()
            if len(self.blocks) > start and not self.blocks[start].startswith(("#", "```")):
                self.blocks[start] = "- " + self.blocks[start]
        if lines:
            self.blocks.append("\n".join(lines))

    def _definitions(self, element: html.HtmlElement) -> None:
        term: str | None = None
        for child in element:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "dt":
                if term:  # a term without a definition of its own still counts
                    self.blocks.append(term)
                term = _inline(child).rstrip(_PERMALINK_SIGNS + " ").strip() or None
            elif child.tag == "dd":
                start = len(self.blocks)
                self._children(child)
                self._flush()
                if term:
                    if len(self.blocks) > start and not self.blocks[start].startswith(("#", "```")):
                        self.blocks[start] = f"{term}\n{self.blocks[start]}"
                    else:
                        self.blocks.insert(start, term)
                    term = None
            else:
                self._element(child)
        if term:
            self.blocks.append(term)

    def _table(self, element: html.HtmlElement) -> None:
        rows = []
        for row in element.iter("tr"):
            cells = [_inline(cell) for cell in row if isinstance(cell.tag, str) and cell.tag in {"td", "th"}]
            if any(cells):
                rows.append(" | ".join(cells))
        caption = element.find("caption")
        if caption is not None and _inline(caption):
            rows.insert(0, _inline(caption))
        if rows:
            self.blocks.append("\n".join(rows))
