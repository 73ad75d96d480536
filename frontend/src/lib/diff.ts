import { diffLines, diffWordsWithSpace } from "diff";

export type DiffRow =
  | { kind: "same"; text: string; oldLine: number; newLine: number }
  | { kind: "added"; text: string; newLine: number; words?: WordPart[] }
  | { kind: "removed"; text: string; oldLine: number; words?: WordPart[] };

export type WordPart = { text: string; changed: boolean };

export type TextDiff = { rows: DiffRow[]; added: number; removed: number; unchanged: number };

function lines(value: string): string[] {
  const parts = value.split("\n");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/**
 * A line diff of two versions of a text (old → new). A removed line followed by an added one is a
 * change: both get word-level parts so the UI can mark exactly what changed inside the line.
 */
export function diffTexts(oldText: string, newText: string): TextDiff {
  const rows: DiffRow[] = [];
  let oldLine = 1;
  let newLine = 1;
  for (const part of diffLines(oldText, newText)) {
    for (const text of lines(part.value)) {
      if (part.added) rows.push({ kind: "added", text, newLine: newLine++ });
      else if (part.removed) rows.push({ kind: "removed", text, oldLine: oldLine++ });
      else rows.push({ kind: "same", text, oldLine: oldLine++, newLine: newLine++ });
    }
  }
  pairChanges(rows);
  return {
    rows,
    added: rows.filter((r) => r.kind === "added").length,
    removed: rows.filter((r) => r.kind === "removed").length,
    unchanged: rows.filter((r) => r.kind === "same").length,
  };
}

function pairChanges(rows: DiffRow[]): void {
  let i = 0;
  while (i < rows.length) {
    const removedStart = i;
    while (i < rows.length && rows[i]!.kind === "removed") i++;
    const addedStart = i;
    while (i < rows.length && rows[i]!.kind === "added") i++;
    const removed = addedStart - removedStart;
    const added = i - addedStart;
    for (let k = 0; k < Math.min(removed, added); k++) {
      const before = rows[removedStart + k] as Extract<DiffRow, { kind: "removed" }>;
      const after = rows[addedStart + k] as Extract<DiffRow, { kind: "added" }>;
      const parts = diffWordsWithSpace(before.text, after.text);
      before.words = parts.filter((p) => !p.added).map((p) => ({ text: p.value, changed: !!p.removed }));
      after.words = parts.filter((p) => !p.removed).map((p) => ({ text: p.value, changed: !!p.added }));
    }
    if (i === removedStart) i++;
  }
}

/** Only the changed rows with `context` unchanged rows around them; gaps become one "skip" marker. */
export function withContext(rows: DiffRow[], context = 2): (DiffRow | { kind: "skip"; count: number })[] {
  const keep = new Array<boolean>(rows.length).fill(false);
  rows.forEach((row, i) => {
    if (row.kind === "same") return;
    for (let k = Math.max(0, i - context); k <= Math.min(rows.length - 1, i + context); k++) keep[k] = true;
  });
  const out: (DiffRow | { kind: "skip"; count: number })[] = [];
  let skipped = 0;
  rows.forEach((row, i) => {
    if (keep[i]) {
      if (skipped) out.push({ kind: "skip", count: skipped });
      skipped = 0;
      out.push(row);
    } else skipped++;
  });
  if (skipped) out.push({ kind: "skip", count: skipped });
  return out;
}
