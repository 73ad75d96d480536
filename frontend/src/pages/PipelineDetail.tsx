import { Alert, Anchor, Button, Card, Group, Modal, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { IconPlayerStop } from "@tabler/icons-react";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { useCancelPipeline, useCrawlRun, usePipeline, useRunSource } from "../api/queries";
import type { PipelineStage } from "../api/types";
import { StatusBadge } from "../components/Status";
import { Empty, QueryState } from "../components/States";
import { describeCounts, formatDateTime, formatDuration, progressOf } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { useToken } from "../lib/useToken";
import { useNavigate } from "react-router";

const LIVE = ["queued", "running"];
const BOOKKEEPING = ["done", "total", "crawl_run", "per_s"];

function StageCard({ stage }: { stage: PipelineStage }) {
  const progress = progressOf(stage.counts);
  const crawlPages = stage.stage === "crawl" ? Number(stage.counts.pages ?? stage.counts.stored ?? 0) : null;
  return (
    <Card withBorder padding="sm" data-testid={`stage-${stage.stage}`}>
      <Group justify="space-between" mb={6}>
        <Text fw={600} tt="capitalize">
          {stage.stage}
        </Text>
        <StatusBadge status={stage.status} />
      </Group>
      {progress ? (
        <Stack gap={2}>
          <Progress
            value={(100 * progress.done) / progress.total}
            animated={stage.status === "running"}
            aria-label={`${stage.stage} progress`}
          />
          <Text size="xs" c="dimmed">
            {progress.done} / {progress.total}
            {stage.counts.per_s ? ` · ${String(stage.counts.per_s)}/s` : ""}
          </Text>
        </Stack>
      ) : stage.status === "running" ? (
        <Progress value={100} animated striped aria-label={`${stage.stage} running`} />
      ) : null}
      <Text size="sm" mt={6}>
        {describeCounts(stage.counts, BOOKKEEPING) || (stage.status === "pending" ? "waiting for the stage before" : "")}
      </Text>
      {crawlPages !== null && stage.status === "running" && (
        <Text size="xs" c="dimmed">
          pages so far: {crawlPages}
        </Text>
      )}
      <Text size="xs" c="dimmed" mt={4}>
        {formatDuration(stage.elapsed_s)}
        {stage.attempts > 1 ? ` · attempt ${stage.attempts}` : ""}
      </Text>
      {stage.message && (
        <Alert color={stage.status === "failed" ? "red" : "gray"} mt="xs" p="xs">
          <Text size="sm">{stage.message}</Text>
        </Alert>
      )}
    </Card>
  );
}

function CrawlErrors({ runId }: { runId: number }) {
  const run = useCrawlRun(runId);
  return (
    <QueryState query={run} loading="Loading the crawl run…">
      {(r) =>
        r.errors.length === 0 ? (
          <Empty title="No page failed in this crawl" />
        ) : (
          <Table.ScrollContainer minWidth={500}>
            <Table aria-label="Pages that failed">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>URL</Table.Th>
                  <Table.Th>Reason</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {r.errors.map((e, i) => (
                  <Table.Tr key={`${e.url}-${i}`}>
                    <Table.Td style={{ wordBreak: "break-all" }}>{e.url}</Table.Td>
                    <Table.Td>{e.reason}</Table.Td>
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

export default function PipelineDetail() {
  const id = Number(useParams().id);
  usePageTitle(`Pipeline #${id}`);
  const pipeline = usePipeline(id);
  const cancel = useCancelPipeline();
  const rerun = useRunSource();
  const navigate = useNavigate();
  const token = useToken();
  const [confirming, setConfirming] = useState(false);

  return (
    <QueryState query={pipeline} loading="Loading the pipeline run…">
      {(p) => {
        const live = LIVE.includes(p.status);
        const crawlRun = Number(p.stages.find((s) => s.stage === "crawl")?.counts.crawl_run ?? NaN);
        return (
          <Stack>
            <Group justify="space-between" align="flex-start">
              <Stack gap={2}>
                <Anchor component={Link} to="/pipelines" size="sm">
                  ← Pipelines & runs
                </Anchor>
                <Group gap="sm">
                  <Title order={2}>Pipeline #{p.id}</Title>
                  <StatusBadge status={p.status} testId="pipeline-status" />
                </Group>
                <Text size="sm" c="dimmed">
                  source <Anchor component={Link} to={`/documents?source=${encodeURIComponent(p.source)}`}>{p.source}</Anchor>{" "}
                  · {p.trigger} · queued {formatDateTime(p.created_at)}
                  {p.finished_at ? ` · ended ${formatDateTime(p.finished_at)}` : ""}
                </Text>
              </Stack>
              <Group>
                {live ? (
                  <Button
                    color="red"
                    variant="light"
                    leftSection={<IconPlayerStop size={16} />}
                    disabled={!token}
                    title={token ? undefined : "needs the API token"}
                    onClick={() => setConfirming(true)}
                  >
                    Cancel run
                  </Button>
                ) : (
                  <Button
                    variant="light"
                    disabled={!token}
                    loading={rerun.isPending}
                    onClick={() => rerun.mutate(p.source, { onSuccess: (next) => navigate(`/pipelines/${next.id}`) })}
                  >
                    Run {p.source} again
                  </Button>
                )}
              </Group>
            </Group>
            {p.message && (
              <Alert color={p.status === "failed" ? "red" : "gray"} title={p.status === "failed" ? "Failed" : undefined}>
                {p.message}
              </Alert>
            )}
            <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
              {p.stages.map((s) => (
                <StageCard key={s.stage} stage={s} />
              ))}
            </SimpleGrid>
            {Number.isFinite(crawlRun) && (
              <Card withBorder>
                <Title order={4} mb="xs">
                  Crawl run {crawlRun}: pages that failed
                </Title>
                <CrawlErrors runId={crawlRun} />
              </Card>
            )}
            <Modal opened={confirming} onClose={() => setConfirming(false)} title="Cancel this run?" centered>
              <Stack>
                <Text>
                  Waiting stages are dropped; a running stage stops at its next checkpoint. What was stored so far stays.
                </Text>
                <Group justify="flex-end">
                  <Button variant="default" onClick={() => setConfirming(false)}>
                    Keep running
                  </Button>
                  <Button
                    color="red"
                    loading={cancel.isPending}
                    onClick={() => cancel.mutate(p.id, { onSettled: () => setConfirming(false) })}
                  >
                    Cancel run
                  </Button>
                </Group>
              </Stack>
            </Modal>
          </Stack>
        );
      }}
    </QueryState>
  );
}
