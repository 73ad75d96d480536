// How numbers, durations and dates read in the UI (one place, so every page says them the same way).

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return integer.format(n);
}

/** 950 → "950", 12_300 → "12.3k", 4_560_000 → "4.56M" */
export function formatCompact(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  const abs = Math.abs(n);
  if (abs < 1000) return integer.format(n);
  const [value, unit] = abs < 1e6 ? [n / 1e3, "k"] : abs < 1e9 ? [n / 1e6, "M"] : [n / 1e9, "B"];
  return `${Number(value.toPrecision(3))}${unit}`;
}

/** 0.4 → "0.4 s", 75 → "1 m 15 s", 7260 → "2 h 1 m" */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${Number(seconds.toFixed(1))} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return m ? `${h} h ${m} m` : `${h} h`;
  return rest ? `${m} m ${rest} s` : `${m} m`;
}

function parse(value: string | Date | null | undefined): Date | null {
  if (!value) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "2026-09-01 14:05" in the viewer's time zone */
export function formatDateTime(value: string | Date | null | undefined): string {
  const date = parse(value);
  if (!date) return "—";
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

export function formatDate(value: string | Date | null | undefined): string {
  return parse(value) ? formatDateTime(value).slice(0, 10) : "—";
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", else the date */
export function formatRelative(value: string | Date | null | undefined, now: Date = new Date()): string {
  const date = parse(value);
  if (!date) return "—";
  const seconds = (now.getTime() - date.getTime()) / 1000;
  if (seconds < 0) return formatDateTime(date);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 86400 * 30) {
    const days = Math.round(seconds / 86400);
    return `${days} day${days === 1 ? "" : "s"} ago`;
  }
  return formatDate(date);
}

/** A stage's counts as "12 / 40" when it reports progress, else null */
export function progressOf(counts: Record<string, unknown>): { done: number; total: number } | null {
  const done = Number(counts.done);
  const total = Number(counts.total);
  if (!Number.isFinite(done) || !Number.isFinite(total) || total <= 0) return null;
  return { done: Math.min(done, total), total };
}

/** Counts of a stage, for humans: "pages 12 · failed 1", skipping bookkeeping keys */
export function describeCounts(counts: Record<string, unknown>, skip: readonly string[] = []): string {
  return Object.entries(counts)
    .filter(([key, value]) => !skip.includes(key) && (typeof value === "number" || typeof value === "string"))
    .map(([key, value]) => `${key.replaceAll("_", " ")} ${typeof value === "number" ? formatCount(value) : value}`)
    .join(" · ");
}

export function pluralize(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
