import { Anchor, Group, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import { useDocumentLineage } from "../api/training";
import { formatDateTime } from "../lib/format";
import { Empty, QueryState } from "./States";

/** Which dataset snapshots (and so which model versions) were trained on this document, and what the
 * models predicted for it. */
export function DocumentLineage({ id }: { id: number }) {
  const lineage = useDocumentLineage(id);
  return (
    <QueryState query={lineage} loading="Tracing the document's use…">
      {(l) =>
        l.snapshots.length === 0 && l.predictions.length === 0 ? (
          <Empty title="No model has used this document">
            It is in no dataset snapshot yet, and no model has labelled it.
          </Empty>
        ) : (
          <Stack>
            {l.snapshots.length > 0 && (
              <>
                <Title order={5}>Trained on in</Title>
                <Table.ScrollContainer minWidth={560}>
                  <Table aria-label="Snapshots with this document" striped verticalSpacing="xs">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Dataset snapshot</Table.Th>
                        <Table.Th>Page version</Table.Th>
                        <Table.Th>Split · labels</Table.Th>
                        <Table.Th>Model versions</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {l.snapshots.map((s) => (
                        <Table.Tr key={s.snapshot_id}>
                          <Table.Td>
                            <Text size="sm">{s.dataset}</Text>
                            <Text size="xs" c="dimmed">
                              {s.snapshot_id.slice(0, 12)} · {formatDateTime(s.created_at)}
                            </Text>
                          </Table.Td>
                          <Table.Td>{s.page_version}</Table.Td>
                          <Table.Td>
                            {s.split} · {s.labels.join(", ") || "—"}
                          </Table.Td>
                          <Table.Td>
                            <Group gap={6}>
                              {s.model_versions.length === 0
                                ? "—"
                                : s.model_versions.map((v) => (
                                    <Anchor
                                      key={`${v.name}-${v.version}`}
                                      component={Link}
                                      to={`/models/${encodeURIComponent(v.name)}?version=${v.version}`}
                                      size="sm"
                                    >
                                      {v.name} v{v.version}
                                    </Anchor>
                                  ))}
                            </Group>
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
              </>
            )}
            {l.predictions.length > 0 && (
              <>
                <Title order={5}>Predictions</Title>
                <Table.ScrollContainer minWidth={480}>
                  <Table aria-label="Predictions for this document" striped verticalSpacing="xs">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Model</Table.Th>
                        <Table.Th>Label</Table.Th>
                        <Table.Th>Score</Table.Th>
                        <Table.Th>Page version</Table.Th>
                        <Table.Th>When</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {l.predictions.map((p) => (
                        <Table.Tr key={p.id}>
                          <Table.Td>
                            <Anchor
                              component={Link}
                              to={`/models/${encodeURIComponent(p.model)}?version=${p.model_version}`}
                              size="sm"
                            >
                              {p.model} v{p.model_version}
                            </Anchor>
                          </Table.Td>
                          <Table.Td>{p.label ?? (p.labels.join(", ") || "—")}</Table.Td>
                          <Table.Td>{p.score.toFixed(3)}</Table.Td>
                          <Table.Td>{p.page_version}</Table.Td>
                          <Table.Td>{formatDateTime(p.created_at)}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
              </>
            )}
          </Stack>
        )
      }
    </QueryState>
  );
}
