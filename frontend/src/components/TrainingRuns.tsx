import { Anchor, Table, Text, Tooltip } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { Link } from "react-router";
import { useTrainingRuns } from "../api/training";
import { formatDuration, formatRelative } from "../lib/format";
import { StatusBadge } from "./Status";
import { Empty, QueryState } from "./States";

function seconds(start: string | null, end: string | null): number | null {
  if (!start) return null;
  return ((end ? new Date(end) : new Date()).getTime() - new Date(start).getTime()) / 1000;
}

/** Training runs (of one model, or all), newest first, followed live while one is queued or training. */
export function TrainingRuns({ model }: { model: string | null }) {
  const runs = useTrainingRuns(model);
  const client = useQueryClient();
  const finished = runs.data?.items.filter((r) => r.status === "succeeded").length ?? 0;
  const seen = useRef(finished);
  useEffect(() => {
    // a run that just finished registered a version: the registry views are stale
    if (finished !== seen.current) {
      seen.current = finished;
      for (const key of ["models", "model"]) void client.invalidateQueries({ queryKey: [key] });
    }
  }, [finished, client]);
  return (
    <QueryState query={runs} loading="Loading training runs…">
      {(page) =>
        page.items.length === 0 ? (
          <Empty title="No training runs yet">
            Define a dataset (<code>harvest dataset create</code>) and train on it: from the table above, or{" "}
            <code>harvest train DATASET</code>.
          </Empty>
        ) : (
          <Table.ScrollContainer minWidth={700}>
            <Table aria-label="Training runs" striped verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Run</Table.Th>
                  {model === null && <Table.Th>Model</Table.Th>}
                  <Table.Th>Dataset</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Version</Table.Th>
                  <Table.Th>Test macro-F1</Table.Th>
                  <Table.Th>Took</Table.Th>
                  <Table.Th>Queued</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {page.items.map((run) => (
                  <Table.Tr key={run.id}>
                    <Table.Td>{run.id}</Table.Td>
                    {model === null && (
                      <Table.Td>
                        <Anchor component={Link} to={`/models/${encodeURIComponent(run.model)}`}>
                          {run.model}
                        </Anchor>
                      </Table.Td>
                    )}
                    <Table.Td>{run.dataset}</Table.Td>
                    <Table.Td>
                      <Tooltip label={run.message ?? run.trigger} disabled={!run.message} multiline maw={360}>
                        <span>
                          <StatusBadge status={run.status} />
                        </span>
                      </Tooltip>
                      {run.status === "failed" && run.message && (
                        <Text size="xs" c="red" lineClamp={2}>
                          {run.message}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{run.model_version ?? "—"}</Table.Td>
                    <Table.Td>{run.metrics?.test_macro_f1 != null ? run.metrics.test_macro_f1.toFixed(3) : "—"}</Table.Td>
                    <Table.Td>{formatDuration(seconds(run.started_at, run.finished_at))}</Table.Td>
                    <Table.Td>{formatRelative(run.created_at)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )
      }
    </QueryState>
  );
}
