import { Anchor, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { BarChart } from "../components/Charts";
import { Link } from "react-router";
import { useCrawlRuns, useHealth, usePipelines } from "../api/queries";
import type { Pipeline } from "../api/types";
import { StageStrip, StatusBadge } from "../components/Status";
import { Empty, ErrorState, Loading, QueryState } from "../components/States";
import { formatCompact, formatDuration, formatRelative } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";

const STAGE_COLORS: Record<string, string> = {
  crawl: "teal.6",
  process: "blue.6",
  entities: "grape.6",
  embed: "orange.6",
};

function Counts() {
  const health = useHealth();
  return (
    <QueryState query={health}>
      {(h) => (
        <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }}>
          {(["sources", "pages", "documents", "chunks", "vectors", "entities"] as const).map((key) => (
            <Card key={key} withBorder padding="sm">
              <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
                {key}
              </Text>
              <Text size="xl" fw={700} data-testid={`count-${key}`}>
                {formatCompact(h.counts[key] ?? 0)}
              </Text>
            </Card>
          ))}
        </SimpleGrid>
      )}
    </QueryState>
  );
}

function RecentRuns({ pipelines }: { pipelines: Pipeline[] }) {
  if (!pipelines.length)
    return (
      <Empty title="No pipeline has run yet">
        Add a source on the <Anchor component={Link} to="/sources">Sources</Anchor> page and press “Run now”.
      </Empty>
    );
  return (
    <Table.ScrollContainer minWidth={560}>
      <Table verticalSpacing="xs" aria-label="Recent pipeline runs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Run</Table.Th>
            <Table.Th>Source</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Stages</Table.Th>
            <Table.Th>Started</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {pipelines.slice(0, 8).map((p) => (
            <Table.Tr key={p.id}>
              <Table.Td>
                <Anchor component={Link} to={`/pipelines/${p.id}`}>
                  #{p.id}
                </Anchor>
              </Table.Td>
              <Table.Td>{p.source}</Table.Td>
              <Table.Td>
                <StatusBadge status={p.status} />
              </Table.Td>
              <Table.Td>
                <StageStrip stages={p.stages} />
              </Table.Td>
              <Table.Td>{formatRelative(p.started_at ?? p.created_at)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function StageTimes({ pipelines }: { pipelines: Pipeline[] }) {
  const done = pipelines.filter((p) => p.status === "succeeded").slice(0, 12).reverse();
  if (done.length === 0) return <Empty title="No finished runs yet" />;
  const data = done.map((p) => ({
    run: `#${p.id}`,
    ...Object.fromEntries(p.stages.map((s) => [s.stage, Number(s.elapsed_s.toFixed(1))])),
  }));
  return (
    <BarChart
      h={220}
      data={data}
      dataKey="run"
      type="stacked"
      unit=" s"
      series={Object.entries(STAGE_COLORS).map(([name, color]) => ({ name, color }))}
      withLegend
      aria-label="Seconds per stage of recent successful runs"
    />
  );
}

function Attention() {
  const pipelines = usePipelines(null, 100);
  const runs = useCrawlRuns(50);
  if (pipelines.isPending || runs.isPending) return <Loading />;
  if (pipelines.error) return <ErrorState error={pipelines.error} retry={() => void pipelines.refetch()} />;
  if (runs.error) return <ErrorState error={runs.error} retry={() => void runs.refetch()} />;
  const failed = pipelines.data.filter((p) => p.status === "failed").slice(0, 5);
  const withErrors = runs.data.filter((r) => r.errors.length > 0 && r.status !== "running").slice(0, 5);
  if (!failed.length && !withErrors.length)
    return <Empty title="Nothing needs attention">No failed pipelines and no crawl errors in recent runs.</Empty>;
  return (
    <Stack gap="xs">
      {failed.map((p) => {
        const stage = p.stages.find((s) => s.status === "failed");
        return (
          <Group key={`p${p.id}`} justify="space-between" wrap="nowrap" align="flex-start">
            <Stack gap={0}>
              <Anchor component={Link} to={`/pipelines/${p.id}`} fw={600}>
                Pipeline #{p.id} of {p.source} failed{stage ? ` at ${stage.stage}` : ""}
              </Anchor>
              <Text size="sm" c="dimmed" lineClamp={2}>
                {stage?.message ?? p.message ?? "no reason recorded"}
              </Text>
            </Stack>
            <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
              {formatRelative(p.finished_at ?? p.created_at)}
            </Text>
          </Group>
        );
      })}
      {withErrors.map((r) => (
        <Group key={`r${r.id}`} justify="space-between" wrap="nowrap" align="flex-start">
          <Stack gap={0}>
            <Text fw={600}>
              Crawl run {r.id} of {r.source}: {r.errors.length} page{r.errors.length === 1 ? "" : "s"} failed
            </Text>
            <Text size="sm" c="dimmed" lineClamp={1}>
              {r.errors[0]?.reason} — {r.errors[0]?.url}
            </Text>
          </Stack>
          <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
            {formatDuration(r.elapsed_s)}
          </Text>
        </Group>
      ))}
    </Stack>
  );
}

export default function Overview() {
  usePageTitle("Overview");
  const pipelines = usePipelines(null, 100);
  return (
    <Stack gap="lg">
      <Title order={2}>Overview</Title>
      <Counts />
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder>
          <Group justify="space-between" mb="xs">
            <Title order={4}>Recent pipeline runs</Title>
            <Anchor component={Link} to="/pipelines" size="sm">
              All runs
            </Anchor>
          </Group>
          <QueryState query={pipelines}>{(data) => <RecentRuns pipelines={data} />}</QueryState>
        </Card>
        <Card withBorder>
          <Title order={4} mb="xs">
            Needs attention
          </Title>
          <Attention />
        </Card>
      </SimpleGrid>
      <Card withBorder>
        <Title order={4} mb="xs">
          Time per stage (recent successful runs)
        </Title>
        <QueryState query={pipelines}>{(data) => <StageTimes pipelines={data} />}</QueryState>
      </Card>
    </Stack>
  );
}
