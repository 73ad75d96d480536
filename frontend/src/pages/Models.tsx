import { Anchor, Badge, Button, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import { useDatasets, useModels, useTrain } from "../api/training";
import { Empty, QueryState } from "../components/States";
import { TrainingRuns } from "../components/TrainingRuns";
import { formatRelative } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { useToken } from "../lib/useToken";

function Registry() {
  const models = useModels();
  return (
    <QueryState query={models} loading="Loading the model registry…">
      {(page) =>
        page.items.length === 0 ? (
          <Empty title="No registered models yet">A successful training run registers the model's first version.</Empty>
        ) : (
          <Table.ScrollContainer minWidth={560}>
            <Table aria-label="Models" striped highlightOnHover verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Model</Table.Th>
                  <Table.Th>In production</Table.Th>
                  <Table.Th>Latest</Table.Th>
                  <Table.Th>Versions</Table.Th>
                  <Table.Th>Updated</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {page.items.map((m) => (
                  <Table.Tr key={m.name}>
                    <Table.Td>
                      <Anchor component={Link} to={`/models/${encodeURIComponent(m.name)}`} fw={600}>
                        {m.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      {m.production != null ? (
                        <Badge color="teal" variant="light">
                          version {m.production}
                        </Badge>
                      ) : (
                        <Text size="sm" c="dimmed">
                          none yet
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{m.latest ?? "—"}</Table.Td>
                    <Table.Td>{m.versions}</Table.Td>
                    <Table.Td>{formatRelative(m.updated_at)}</Table.Td>
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

function Datasets() {
  const datasets = useDatasets();
  const train = useTrain();
  const token = useToken();
  return (
    <QueryState query={datasets} loading="Loading datasets…">
      {(page) =>
        page.items.length === 0 ? (
          <Empty title="No datasets yet">
            A dataset names sources and a label rule, e.g.{" "}
            <code>harvest dataset create kinds --source demo --label-url '/(?P&lt;label&gt;articles|section)/'</code>.
          </Empty>
        ) : (
          <Table.ScrollContainer minWidth={640}>
            <Table aria-label="Datasets" striped verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Dataset</Table.Th>
                  <Table.Th>Sources</Table.Th>
                  <Table.Th>Labels from</Table.Th>
                  <Table.Th>Snapshots</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {page.items.map((d) => (
                  <Table.Tr key={d.name}>
                    <Table.Td fw={600}>{d.name}</Table.Td>
                    <Table.Td>{d.sources.join(", ")}</Table.Td>
                    <Table.Td>
                      <Text size="sm" lineClamp={2}>
                        {d.label_rule_text}
                      </Text>
                    </Table.Td>
                    <Table.Td>{d.snapshots}</Table.Td>
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="light"
                        disabled={!token}
                        title={token ? undefined : "needs the API token"}
                        loading={train.isPending && train.variables === d.name}
                        onClick={() => train.mutate(d.name)}
                        aria-label={`Train on ${d.name}`}
                      >
                        Train
                      </Button>
                    </Table.Td>
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

export default function Models() {
  usePageTitle("Models");
  return (
    <Stack>
      <Title order={2}>Models</Title>
      <Registry />
      <Title order={4}>Datasets</Title>
      <Datasets />
      <Title order={4}>Training runs</Title>
      <TrainingRuns model={null} />
    </Stack>
  );
}
