// A source as the form edits it (text boxes: one URL or pattern per line, labels as KEY=VALUE lines)
// and as the API takes it (the fields of sources.yaml). The API validates; the form only reshapes.

import type { Source } from "../api/types";

export type SourceSpec = Source;

export type SourceFormValues = {
  name: string;
  start_urls: string;
  sitemap_urls: string;
  allowed_domains: string;
  include: string;
  exclude: string;
  max_depth: string;
  max_pages: string;
  render: "static" | "browser";
  wait_for: string;
  concurrency: string;
  delay: string;
  user_agent: string;
  schedule: string;
  labels: string;
};

export const EMPTY_SOURCE: SourceFormValues = {
  name: "",
  start_urls: "",
  sitemap_urls: "",
  allowed_domains: "",
  include: "",
  exclude: "",
  max_depth: "",
  max_pages: "",
  render: "static",
  wait_for: "",
  concurrency: "4",
  delay: "0",
  user_agent: "",
  schedule: "",
  labels: "",
};

export function splitLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

export type FormProblem = { field: keyof SourceFormValues; message: string };

/** Labels: one KEY=VALUE per line (a bare KEY means an empty value). */
export function parseLabels(value: string): { labels: Record<string, string>; problem: string | null } {
  const labels: Record<string, string> = {};
  for (const line of splitLines(value)) {
    const at = line.indexOf("=");
    const key = (at < 0 ? line : line.slice(0, at)).trim();
    if (!key) return { labels, problem: `"${line}" has no key (write KEY=VALUE)` };
    labels[key] = at < 0 ? "" : line.slice(at + 1).trim();
  }
  return { labels, problem: null };
}

function optionalNumber(value: string, field: keyof SourceFormValues, problems: FormProblem[]): number | null {
  if (value.trim() === "") return null;
  const n = Number(value);
  if (!Number.isFinite(n)) {
    problems.push({ field, message: `"${value}" is not a number` });
    return null;
  }
  return n;
}

/** Form → the API's JSON. Only shape problems are caught here; the API says what is invalid. */
export function toSpec(values: SourceFormValues): { spec: SourceSpec; problems: FormProblem[] } {
  const problems: FormProblem[] = [];
  const { labels, problem } = parseLabels(values.labels);
  if (problem) problems.push({ field: "labels", message: problem });
  const spec: SourceSpec = {
    name: values.name.trim(),
    start_urls: splitLines(values.start_urls),
    sitemap_urls: splitLines(values.sitemap_urls),
    allowed_domains: splitLines(values.allowed_domains),
    include: splitLines(values.include),
    exclude: splitLines(values.exclude),
    max_depth: optionalNumber(values.max_depth, "max_depth", problems),
    max_pages: optionalNumber(values.max_pages, "max_pages", problems),
    render: values.render,
    wait_for: values.wait_for.trim() || null,
    concurrency: optionalNumber(values.concurrency, "concurrency", problems) ?? 4,
    delay: optionalNumber(values.delay, "delay", problems) ?? 0,
    user_agent: values.user_agent.trim() || null,
    schedule: values.schedule.trim() || null,
    labels,
  };
  return { spec, problems };
}

/** The API's JSON → the form (for editing an existing source). */
export function toForm(spec: SourceSpec): SourceFormValues {
  const lines = (v: string[] | undefined) => (v ?? []).join("\n");
  const text = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  return {
    name: spec.name,
    start_urls: lines(spec.start_urls),
    sitemap_urls: lines(spec.sitemap_urls),
    allowed_domains: lines(spec.allowed_domains),
    include: lines(spec.include),
    exclude: lines(spec.exclude),
    max_depth: text(spec.max_depth),
    max_pages: text(spec.max_pages),
    render: spec.render ?? "static",
    wait_for: text(spec.wait_for),
    concurrency: text(spec.concurrency ?? 4),
    delay: text(spec.delay ?? 0),
    user_agent: text(spec.user_agent),
    schedule: text(spec.schedule),
    labels: Object.entries(spec.labels ?? {})
      .map(([k, v]) => (v ? `${k}=${v}` : k))
      .join("\n"),
  };
}

/** Only what the edit changed (PATCH): a field set back to its old value is not sent. */
export function changedFields(before: SourceSpec, after: SourceSpec): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  const old = before as Record<string, unknown>;
  for (const [key, value] of Object.entries(after)) {
    if (key === "name") continue;
    if (JSON.stringify(old[key] ?? null) !== JSON.stringify(value ?? null)) changes[key] = value;
  }
  // allowed domains left empty are derived from the URLs again by the API
  if (Array.isArray(changes.allowed_domains) && changes.allowed_domains.length === 0) {
    if ("start_urls" in changes || "sitemap_urls" in changes) delete changes.allowed_domains;
  }
  return changes;
}

/** Which form field an API error is about: the API's `field` (e.g. "start_urls.0") → "start_urls". */
export function formFieldOf(apiField: string | null | undefined): keyof SourceFormValues | null {
  if (!apiField) return null;
  const head = apiField.split(".")[0] as keyof SourceFormValues;
  return head in EMPTY_SOURCE ? head : null;
}
