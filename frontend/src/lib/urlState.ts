// Every page keeps its state (query, filters, page) in the URL: a link or a reload shows the same view.
// A spec names each parameter's kind and default; defaults are left out of the URL to keep links short.

export type ParamSpec =
  | { kind: "string"; default?: string }
  | { kind: "int"; default: number; min?: number; max?: number }
  | { kind: "list" }
  | { kind: "enum"; values: readonly string[]; default: string }
  | { kind: "bool"; default: boolean };

type ValueOf<P extends ParamSpec> = P extends { kind: "enum"; values: readonly (infer V)[] }
  ? V
  : P extends { kind: "int" }
  ? number
  : P extends { kind: "list" }
    ? string[]
    : P extends { kind: "bool" }
      ? boolean
      : string;

export type Values<S extends Record<string, ParamSpec>> = { [K in keyof S]: ValueOf<S[K]> };

function readOne(search: URLSearchParams, key: string, spec: ParamSpec): unknown {
  switch (spec.kind) {
    case "list":
      return search
        .getAll(key)
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter(Boolean);
    case "int": {
      const raw = search.get(key);
      const n = raw === null || raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isInteger(n)) return spec.default;
      return Math.min(Math.max(n, spec.min ?? -Infinity), spec.max ?? Infinity);
    }
    case "enum": {
      const raw = search.get(key);
      return raw !== null && spec.values.includes(raw) ? raw : spec.default;
    }
    case "bool": {
      const raw = search.get(key);
      return raw === null ? spec.default : raw === "1" || raw === "true";
    }
    default:
      return search.get(key) ?? spec.default ?? "";
  }
}

export function readParams<S extends Record<string, ParamSpec>>(search: URLSearchParams, spec: S): Values<S> {
  const out: Record<string, unknown> = {};
  for (const [key, param] of Object.entries(spec)) out[key] = readOne(search, key, param);
  return out as Values<S>;
}

function isDefault(spec: ParamSpec, value: unknown): boolean {
  switch (spec.kind) {
    case "list":
      return !Array.isArray(value) || value.length === 0;
    case "string":
      return value === undefined || value === null || value === "" || value === (spec.default ?? "");
    default:
      return value === undefined || value === null || value === spec.default;
  }
}

/**
 * The URL parameters after `changes`: parameters outside the spec are kept, defaults are dropped, and
 * any change to something other than the `pageKey` (a filter, the query) sends the view back to page 1.
 */
export function writeParams<S extends Record<string, ParamSpec>>(
  current: URLSearchParams,
  spec: S,
  changes: Partial<Values<S>>,
  pageKey: keyof S | null = "offset",
): URLSearchParams {
  const next = new URLSearchParams(current);
  const changed = Object.keys(changes);
  for (const key of changed) {
    const param = spec[key];
    if (!param) continue;
    const value = (changes as Record<string, unknown>)[key];
    next.delete(key);
    if (isDefault(param, value)) continue;
    if (param.kind === "list") (value as string[]).forEach((v) => next.append(key, v));
    else if (param.kind === "bool") next.set(key, value ? "1" : "0");
    else next.set(key, String(value));
  }
  if (pageKey !== null && changed.some((k) => k !== pageKey) && !(pageKey in changes)) {
    next.delete(String(pageKey));
  }
  return next;
}
