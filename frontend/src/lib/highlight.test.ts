import { describe, expect, it } from "vitest";
import { placeMentions, snippetParts, spanParts, unescapeHtml } from "./highlight";

describe("snippets", () => {
  it("turns <mark>ed, escaped HTML into text parts without injecting markup", () => {
    expect(snippetParts("Solar <mark>farm</mark> &amp; <mark>wind</mark> &lt;b&gt;")).toEqual([
      { text: "Solar ", mark: null },
      { text: "farm", mark: true },
      { text: " & ", mark: null },
      { text: "wind", mark: true },
      { text: " <b>", mark: null },
    ]);
    expect(snippetParts("<script>alert(1)</script>")).toEqual([{ text: "<script>alert(1)</script>", mark: null }]);
    expect(unescapeHtml("&#39;&#x41;&quot;&bogus;")).toBe("'A\"&bogus;");
  });
});

describe("mentions", () => {
  it("cuts text by spans and skips overlaps", () => {
    const parts = spanParts("Acme Corp met Globex.", [
      { start: 14, end: 20, data: "g" },
      { start: 0, end: 9, data: "a" },
      { start: 5, end: 12, data: "overlap" },
    ]);
    expect(parts).toEqual([
      { text: "Acme Corp", mark: "a" },
      { text: " met ", mark: null },
      { text: "Globex", mark: "g" },
      { text: ".", mark: null },
    ]);
  });

  it("moves chunk offsets into the document's text", () => {
    const text = "Intro about Acme.\n\nSecond paragraph: Initech and Acme.";
    const chunks = [
      { id: "c1", text: "Intro about Acme." },
      { id: "c2", text: "Second paragraph: Initech and Acme." },
      { id: "lost", text: "not in the text" },
    ];
    const spans = placeMentions(text, chunks, [
      { chunk_id: "c2", start: 18, end: 25, data: "initech" },
      { chunk_id: "c1", start: 12, end: 16, data: "acme" },
      { chunk_id: "lost", start: 0, end: 3, data: "x" },
    ]);
    expect(spans.map((s) => [text.slice(s.start, s.end), s.data])).toEqual([
      ["Initech", "initech"],
      ["Acme", "acme"],
    ]);
  });
});
