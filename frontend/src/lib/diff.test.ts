import { describe, expect, it } from "vitest";
import { diffTexts, withContext } from "./diff";

describe("version diffs", () => {
  it("finds added, removed and changed lines with their numbers", () => {
    const diff = diffTexts("title\nold line\nsame\nremoved", "title\nnew line\nsame\nadded at end\n");
    expect(diff.added).toBe(2);
    expect(diff.removed).toBe(2);
    expect(diff.unchanged).toBe(2);
    expect(diff.rows.map((r) => r.kind)).toEqual(["same", "removed", "added", "same", "removed", "added"]);
    const changed = diff.rows[2];
    expect(changed).toMatchObject({ kind: "added", text: "new line", newLine: 2 });
  });

  it("marks the words that changed inside a changed line", () => {
    const diff = diffTexts("The farm has 40 turbines.", "The farm has 45 turbines.");
    const removed = diff.rows.find((r) => r.kind === "removed");
    const added = diff.rows.find((r) => r.kind === "added");
    expect(removed?.kind === "removed" && removed.words?.filter((w) => w.changed).map((w) => w.text)).toEqual(["40"]);
    expect(added?.kind === "added" && added.words?.filter((w) => w.changed).map((w) => w.text)).toEqual(["45"]);
    expect(added?.kind === "added" && added.words?.map((w) => w.text).join("")).toBe("The farm has 45 turbines.");
  });

  it("reports identical texts as no change", () => {
    const diff = diffTexts("a\nb", "a\nb");
    expect(diff.added + diff.removed).toBe(0);
  });

  it("keeps changed rows with context and folds the rest", () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    const after = before.replace("line 10", "line ten");
    const rows = withContext(diffTexts(before, after).rows, 2);
    expect(rows[0]).toEqual({ kind: "skip", count: 8 });
    expect(rows.filter((r) => r.kind !== "skip")).toHaveLength(6);
    expect(rows[rows.length - 1]).toEqual({ kind: "skip", count: 7 });
  });
});
