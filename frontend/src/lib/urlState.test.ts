import { describe, expect, it } from "vitest";
import { readParams, writeParams } from "./urlState";

const SPEC = {
  q: { kind: "string" },
  mode: { kind: "enum", values: ["hybrid", "vector", "keyword"], default: "hybrid" },
  source: { kind: "list" },
  offset: { kind: "int", default: 0, min: 0, max: 990 },
  new: { kind: "bool", default: false },
} as const;

describe("URL state", () => {
  it("reads every kind with defaults for what is missing or invalid", () => {
    const values = readParams(new URLSearchParams("q=solar+farm&mode=nonsense&source=a&source=b,c&offset=-5"), SPEC);
    expect(values).toEqual({ q: "solar farm", mode: "hybrid", source: ["a", "b", "c"], offset: 0, new: false });
    expect(readParams(new URLSearchParams("offset=20000&new=1"), SPEC)).toMatchObject({ offset: 990, new: true });
    expect(readParams(new URLSearchParams("offset=abc"), SPEC).offset).toBe(0);
  });

  it("writes changes, leaves defaults out and keeps unrelated parameters", () => {
    const next = writeParams(new URLSearchParams("q=x&keep=1"), SPEC, { mode: "vector", source: ["a", "b"] });
    expect(next.toString()).toBe("q=x&keep=1&mode=vector&source=a&source=b");
    expect(writeParams(next, SPEC, { mode: "hybrid", source: [] }).toString()).toBe("q=x&keep=1");
  });

  it("goes back to the first page when a filter or the query changes, not when paging", () => {
    const paged = writeParams(new URLSearchParams("q=x"), SPEC, { offset: 20 });
    expect(paged.get("offset")).toBe("20");
    expect(writeParams(paged, SPEC, { q: "y" }).get("offset")).toBeNull();
    expect(writeParams(paged, SPEC, { offset: 30 }).get("offset")).toBe("30");
    expect(writeParams(paged, SPEC, { q: "y" }, null).get("offset")).toBe("20");
  });

  it("round-trips what it writes", () => {
    const state = { q: "ä & b", mode: "keyword" as const, source: ["x y"], offset: 10, new: true };
    const written = writeParams(new URLSearchParams(), SPEC, state, null);
    expect(readParams(new URLSearchParams(written.toString()), SPEC)).toEqual(state);
  });
});
