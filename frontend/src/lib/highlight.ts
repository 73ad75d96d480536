// Marking things inside text without ever injecting HTML: snippets and entity mentions become parts
// that React renders as text (and <mark> for the marked ones).

export type Part<T = undefined> = { text: string; mark: T | null };

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'" };

export function unescapeHtml(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|apos|#39|#x27|#\d+|#x[0-9a-f]+);/gi, (whole, name: string) => {
    const known = ENTITIES[name.toLowerCase()];
    if (known !== undefined) return known;
    const code = name[1]?.toLowerCase() === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** A search snippet (HTML-escaped text with <mark>…</mark> around matched words) as parts. */
export function snippetParts(snippet: string): Part<true>[] {
  const parts: Part<true>[] = [];
  const pattern = /<mark>([\s\S]*?)<\/mark>/g;
  let last = 0;
  for (const match of snippet.matchAll(pattern)) {
    const before = snippet.slice(last, match.index);
    if (before) parts.push({ text: unescapeHtml(before), mark: null });
    parts.push({ text: unescapeHtml(match[1] ?? ""), mark: true });
    last = (match.index ?? 0) + match[0].length;
  }
  const rest = snippet.slice(last);
  if (rest) parts.push({ text: unescapeHtml(rest), mark: null });
  return parts.filter((p) => p.text !== "");
}

export type Span<T> = { start: number; end: number; data: T };

/** Text cut into parts by spans (sorted by start; an overlapping span loses to the earlier one). */
export function spanParts<T>(text: string, spans: Span<T>[]): Part<T>[] {
  const parts: Part<T>[] = [];
  let cursor = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start || b.end - a.end)) {
    const start = Math.max(span.start, 0);
    const end = Math.min(span.end, text.length);
    if (start < cursor || end <= start) continue;
    if (start > cursor) parts.push({ text: text.slice(cursor, start), mark: null });
    parts.push({ text: text.slice(start, end), mark: span.data });
    cursor = end;
  }
  if (cursor < text.length) parts.push({ text: text.slice(cursor), mark: null });
  return parts;
}

export type ChunkText = { id: string; text: string };
export type ChunkMention<T> = { chunk_id: string; start: number; end: number; data: T };

/**
 * Mentions are stored with offsets inside their chunk; a chunk is a stretch of the document's text.
 * Find each chunk in the text (in order; pieces of a split paragraph overlap) and move the offsets.
 */
export function placeMentions<T>(text: string, chunks: ChunkText[], mentions: ChunkMention<T>[]): Span<T>[] {
  const where = new Map<string, number>();
  let from = 0;
  for (const chunk of chunks) {
    let at = text.indexOf(chunk.text, from);
    if (at < 0) at = text.indexOf(chunk.text);
    if (at >= 0) {
      where.set(chunk.id, at);
      from = at + 1;
    }
  }
  const spans: Span<T>[] = [];
  for (const m of mentions) {
    const base = where.get(m.chunk_id);
    if (base === undefined) continue;
    spans.push({ start: base + m.start, end: base + m.end, data: m.data });
  }
  return spans;
}
