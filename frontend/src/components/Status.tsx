import { Badge, Group, Tooltip } from "@mantine/core";
import type { PipelineStage } from "../api/types";
import { describeCounts, formatDuration } from "../lib/format";

const COLORS: Record<string, string> = {
  succeeded: "teal",
  running: "blue",
  queued: "gray",
  pending: "gray",
  failed: "red",
  cancelled: "orange",
  interrupted: "orange",
};

export function StatusBadge({ status, testId }: { status: string; testId?: string }) {
  return (
    <Badge
      color={COLORS[status] ?? "gray"}
      variant={status === "running" ? "filled" : "light"}
      size="sm"
      data-testid={testId}
    >
      {status}
    </Badge>
  );
}

/** One pill per stage, in order: what ran, what failed, what is still to come. */
export function StageStrip({ stages }: { stages: PipelineStage[] }) {
  return (
    <Group gap={4} wrap="nowrap">
      {stages.map((s) => (
        <Tooltip
          key={s.stage}
          label={`${s.stage}: ${s.status} · ${formatDuration(s.elapsed_s)}${
            s.message ? ` · ${s.message}` : ""
          }${Object.keys(s.counts).length ? ` · ${describeCounts(s.counts)}` : ""}`}
          multiline
          maw={360}
        >
          <Badge
            color={COLORS[s.status] ?? "gray"}
            variant={s.status === "running" ? "filled" : "light"}
            size="xs"
            radius="sm"
            tabIndex={0}
          >
            {s.stage}
          </Badge>
        </Tooltip>
      ))}
    </Group>
  );
}
