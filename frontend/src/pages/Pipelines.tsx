import { Anchor, Group, Select, Stack, Text, Title } from "@mantine/core";
import { createColumnHelper } from "@tanstack/react-table";
import { useMemo } from "react";
import { Link } from "react-router";
import { usePipelines, useSources } from "../api/queries";
import type { Pipeline } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Pager } from "../components/Pager";
import { StageStrip, StatusBadge } from "../components/Status";
import { Empty, QueryState } from "../components/States";
import { formatDateTime, formatDuration, formatRelative } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { useUrlState } from "../lib/useUrlState";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const PAGE = 25;
const SPEC = {
  source: { kind: "string" },
  status: { kind: "string" },
  offset: { kind: "int", default: 0, min: 0 },
} as const;
const column = createColumnHelper<Pipeline>();

function elapsed(p: Pipeline): number | null {
  if (!p.started_at) return null;
  const end = p.finished_at ? new Date(p.finished_at) : new Date();
  return (end.getTime() - new Date(p.started_at).getTime()) / 1000;
}

export default function Pipelines() {
  usePageTitle("Pipelines & runs");
  const [state, setState] = useUrlState(SPEC);
  const sources = useSources();
  const pipelines = usePipelines(state.source || null, 500);

  const columns = useMemo(
    () => [
      column.accessor("id", {
        header: "Run",
        cell: (c) => (
          <Anchor component={Link} to={`/pipelines/${c.getValue()}`} fw={600}>
            #{c.getValue()}
          </Anchor>
        ),
      }),
      column.accessor("source", { header: "Source" }),
      column.accessor("status", { header: "Status", cell: (c) => <StatusBadge status={c.getValue()} /> }),
      column.display({ id: "stages", header: "Stages", cell: (c) => <StageStrip stages={c.row.original.stages} /> }),
      column.accessor("trigger", { header: "Trigger" }),
      column.accessor("created_at", {
        header: "Queued",
        cell: (c) => <span title={formatDateTime(c.getValue())}>{formatRelative(c.getValue())}</span>,
      }),
      column.accessor((p) => elapsed(p) ?? -1, {
        id: "duration",
        header: "Duration",
        cell: (c) => formatDuration(elapsed(c.row.original)),
      }),
    ],
    [],
  );

  return (
    <Stack>
      <Title order={2}>Pipelines & runs</Title>
      <Text c="dimmed" size="sm">
        Each run is crawl → process → entities → embed on the task queue. Open one to follow it live or cancel it.
      </Text>
      <Group>
        <Select
          label="Source"
          placeholder="all sources"
          clearable
          searchable
          data={(sources.data ?? []).map((s) => s.name)}
          value={state.source || null}
          onChange={(v) => setState({ source: v ?? "" })}
        />
        <Select
          label="Status"
          placeholder="any status"
          clearable
          data={STATUSES}
          value={state.status || null}
          onChange={(v) => setState({ status: v ?? "" })}
        />
      </Group>
      <QueryState query={pipelines}>
        {(all) => {
          const rows = state.status ? all.filter((p) => p.status === state.status) : all;
          const page = rows.slice(state.offset, state.offset + PAGE);
          return (
            <Stack>
              <DataTable
                label="Pipeline runs"
                data={page}
                columns={columns}
                empty={
                  <Empty title={all.length ? "No run matches these filters" : "No pipeline has run yet"}>
                    {all.length ? "Clear a filter to see more." : "Start one with “Run now” on the Sources page."}
                  </Empty>
                }
              />
              <Pager
                offset={state.offset}
                limit={PAGE}
                shown={page.length}
                total={rows.length}
                nextOffset={state.offset + PAGE < rows.length ? state.offset + PAGE : null}
                onChange={(offset) => setState({ offset })}
              />
            </Stack>
          );
        }}
      </QueryState>
    </Stack>
  );
}
