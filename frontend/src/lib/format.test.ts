import { describe, expect, it } from "vitest";
import {
  describeCounts,
  formatCompact,
  formatCount,
  formatDuration,
  formatRelative,
  pluralize,
  progressOf,
} from "./format";

describe("formatting", () => {
  it("counts", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(null)).toBe("—");
    expect(formatCompact(950)).toBe("950");
    expect(formatCompact(12_300)).toBe("12.3k");
    expect(formatCompact(4_560_000)).toBe("4.56M");
    expect(pluralize(1, "page")).toBe("1 page");
    expect(pluralize(3, "entity", "entities")).toBe("3 entities");
  });

  it("durations", () => {
    expect(formatDuration(0.42)).toBe("0.4 s");
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(75)).toBe("1 m 15 s");
    expect(formatDuration(120)).toBe("2 m");
    expect(formatDuration(7260)).toBe("2 h 1 m");
    expect(formatDuration(-1)).toBe("—");
  });

  it("relative times", () => {
    const now = new Date("2026-09-10T12:00:00Z");
    expect(formatRelative("2026-09-10T11:59:40Z", now)).toBe("just now");
    expect(formatRelative("2026-09-10T11:55:00Z", now)).toBe("5 min ago");
    expect(formatRelative("2026-09-10T09:00:00Z", now)).toBe("3 h ago");
    expect(formatRelative("2026-09-09T12:00:00Z", now)).toBe("1 day ago");
    expect(formatRelative("not a date", now)).toBe("—");
  });

  it("stage progress and counts", () => {
    expect(progressOf({ done: 5, total: 20 })).toEqual({ done: 5, total: 20 });
    expect(progressOf({ done: 30, total: 20 })).toEqual({ done: 20, total: 20 });
    expect(progressOf({ pages: 3 })).toBeNull();
    expect(describeCounts({ pages: 1200, failed_pages: 2, crawl_run: 7, note: "ok" }, ["crawl_run"])).toBe(
      "pages 1,200 · failed pages 2 · note ok",
    );
  });
});
