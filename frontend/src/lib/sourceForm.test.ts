import { describe, expect, it } from "vitest";
import { EMPTY_SOURCE, changedFields, formFieldOf, parseLabels, toForm, toSpec } from "./sourceForm";

describe("source form", () => {
  it("turns the form into the API's JSON", () => {
    const { spec, problems } = toSpec({
      ...EMPTY_SOURCE,
      name: " blog ",
      start_urls: "https://a.example/\n\n  https://b.example/  ",
      max_pages: "500",
      labels: "topic=docs\nlang = en\nflag",
      schedule: " ",
    });
    expect(problems).toEqual([]);
    expect(spec).toMatchObject({
      name: "blog",
      start_urls: ["https://a.example/", "https://b.example/"],
      max_pages: 500,
      max_depth: null,
      labels: { topic: "docs", lang: "en", flag: "" },
      schedule: null,
      concurrency: 4,
    });
  });

  it("reports shape problems at their field", () => {
    expect(toSpec({ ...EMPTY_SOURCE, name: "x", max_depth: "deep" }).problems).toEqual([
      { field: "max_depth", message: '"deep" is not a number' },
    ]);
    expect(parseLabels("=value").problem).toContain("no key");
  });

  it("round-trips a stored source and sends only what changed", () => {
    const stored = {
      name: "blog",
      start_urls: ["https://a.example/"],
      allowed_domains: ["a.example"],
      render: "static" as const,
      concurrency: 4,
      delay: 0,
      labels: { topic: "docs" },
    };
    const form = toForm(stored);
    expect(form.start_urls).toBe("https://a.example/");
    expect(form.labels).toBe("topic=docs");
    const same = toSpec(form).spec;
    expect(changedFields(stored, same)).not.toHaveProperty("start_urls");
    const edited = toSpec({ ...form, start_urls: "https://c.example/", allowed_domains: "" }).spec;
    const changes = changedFields(stored, edited);
    expect(changes.start_urls).toEqual(["https://c.example/"]);
    expect(changes).not.toHaveProperty("allowed_domains"); // derived again from the new URL
  });

  it("maps the API's error field to the form field", () => {
    expect(formFieldOf("start_urls.0")).toBe("start_urls");
    expect(formFieldOf("schedule")).toBe("schedule");
    expect(formFieldOf("render_rules.0.pattern")).toBeNull();
    expect(formFieldOf(null)).toBeNull();
  });
});
