import {
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
} from "@mantine/core";
import { useState } from "react";
import { Link, useParams } from "react-router";
import {
  useLineage,
  useModel,
  useModelVersion,
  usePredict,
  usePromote,
  useRollback,
} from "../api/training";
import type { ModelDetail as Detail, ModelVersion } from "../api/types";
import { LineChart } from "../components/Charts";
import { Pager } from "../components/Pager";
import { Empty, ErrorState, QueryState } from "../components/States";
import { TrainingRuns } from "../components/TrainingRuns";
import { formatCount, formatDateTime, formatDuration } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { useToken } from "../lib/useToken";
import { useUrlState } from "../lib/useUrlState";

const SPEC = { version: { kind: "int", default: 0, min: 0 }, offset: { kind: "int", default: 0, min: 0 } } as const;
const LINEAGE_PAGE = 20;

function metric(v: ModelVersion, key: string): string {
  const value = v.metrics[key];
  return value == null ? "—" : value.toFixed(3);
}

function Versions({ model, shown, onShow }: { model: Detail; shown: number; onShow: (v: number) => void }) {
  const promote = usePromote(model.name);
  const token = useToken();
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table aria-label="Versions" striped highlightOnHover verticalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>Registered</Table.Th>
            <Table.Th>Test macro-F1</Table.Th>
            <Table.Th>Test accuracy</Table.Th>
            <Table.Th>Best val. F1</Table.Th>
            <Table.Th>Training</Table.Th>
            <Table.Th>Dataset</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {model.version_list.map((v) => {
            const inProduction = v.aliases.includes("production");
            return (
              <Table.Tr key={v.version} bg={v.version === shown ? "var(--mantine-color-blue-light)" : undefined}>
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    <Anchor component="button" type="button" onClick={() => onShow(v.version)} fw={600}>
                      {v.version}
                    </Anchor>
                    {inProduction && (
                      <Badge color="teal" size="sm">
                        production
                      </Badge>
                    )}
                  </Group>
                </Table.Td>
                <Table.Td>{formatDateTime(v.created_at)}</Table.Td>
                <Table.Td>{metric(v, "test_macro_f1")}</Table.Td>
                <Table.Td>{metric(v, "test_accuracy")}</Table.Td>
                <Table.Td>{metric(v, "best_val_macro_f1")}</Table.Td>
                <Table.Td>{formatDuration(v.metrics.train_seconds)}</Table.Td>
                <Table.Td>
                  <Text size="sm">{v.dataset ?? "—"}</Text>
                  <Text size="xs" c="dimmed">
                    {v.kind}
                    {v.snapshot_id ? ` · snapshot ${v.snapshot_id.slice(0, 12)}` : ""}
                  </Text>
                </Table.Td>
                <Table.Td>
                  {!inProduction && (
                    <Button
                      size="xs"
                      variant="light"
                      disabled={!token}
                      title={token ? undefined : "needs the API token"}
                      loading={promote.isPending && promote.variables === v.version}
                      onClick={() => promote.mutate(v.version)}
                      aria-label={`Promote version ${v.version}`}
                    >
                      Promote
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Curves({ name, version }: { name: string; version: number }) {
  const detail = useModelVersion(name, version);
  return (
    <QueryState query={detail} loading="Loading the training curves…">
      {(v) =>
        v.history.length === 0 ? (
          <Empty title="No per-epoch metrics">The MLflow run of this version is gone; its registered metrics stand.</Empty>
        ) : (
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Card withBorder>
              <Text fw={600} mb="xs">
                Loss per epoch
              </Text>
              <LineChart
                h={220}
                data={v.history}
                dataKey="epoch"
                series={[
                  { name: "train_loss", label: "train", color: "blue.6" },
                  { name: "val_loss", label: "validation", color: "orange.6" },
                ]}
                withLegend
                withDots={false}
                aria-label="Loss per epoch"
              />
            </Card>
            <Card withBorder>
              <Text fw={600} mb="xs">
                Validation scores per epoch
              </Text>
              <LineChart
                h={220}
                data={v.history}
                dataKey="epoch"
                yAxisProps={{ domain: [0, 1] }}
                series={[
                  { name: "val_macro_f1", label: "macro-F1", color: "teal.6" },
                  { name: "val_accuracy", label: "accuracy", color: "grape.5" },
                ]}
                withLegend
                withDots={false}
                aria-label="Validation scores per epoch"
              />
            </Card>
          </SimpleGrid>
        )
      }
    </QueryState>
  );
}

function Lineage({ name, version }: { name: string; version: number }) {
  const [state, setState] = useUrlState(SPEC);
  const lineage = useLineage(name, version, state.offset, LINEAGE_PAGE);
  return (
    <QueryState query={lineage} loading="Tracing the lineage…">
      {(l) => (
        <Stack gap="sm">
          <Table aria-label="Lineage" variant="vertical" withTableBorder>
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={190}>MLflow run</Table.Th>
                <Table.Td>
                  {l.run ? (
                    <>
                      <Code>{l.run.run_id}</Code> · {l.run.status.toLowerCase()}
                    </>
                  ) : (
                    "—"
                  )}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Dataset snapshot</Table.Th>
                <Table.Td>
                  {l.snapshot ? (
                    <>
                      <Code>{l.snapshot.id.slice(0, 12)}</Code> of {l.snapshot.dataset}: {formatCount(l.snapshot.rows)}{" "}
                      documents, taken {formatDateTime(l.snapshot.created_at)}
                    </>
                  ) : (
                    "the snapshot is gone"
                  )}
                </Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>Embedding model</Table.Th>
                <Table.Td>{l.model.embedding_model ?? "—"}</Table.Td>
              </Table.Tr>
              {l.snapshot?.label_distribution && (
                <Table.Tr>
                  <Table.Th>Labels per split</Table.Th>
                  <Table.Td>
                    {Object.entries(l.snapshot.label_distribution).map(([split, counts]) => (
                      <Text size="sm" key={split}>
                        {split}: {Object.entries(counts).map(([label, n]) => `${label} ${n}`).join(" · ")}
                      </Text>
                    ))}
                  </Table.Td>
                </Table.Tr>
              )}
            </Table.Tbody>
          </Table>
          {l.documents.length > 0 && (
            <>
              <Table.ScrollContainer minWidth={560}>
                <Table aria-label="Training documents" striped verticalSpacing={4}>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Document</Table.Th>
                      <Table.Th>Page version</Table.Th>
                      <Table.Th>Split</Table.Th>
                      <Table.Th>Labels</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {l.documents.map((d) => (
                      <Table.Tr key={d.document_id}>
                        <Table.Td>
                          <Anchor component={Link} to={`/documents/${d.document_id}`} size="sm">
                            {d.url}
                          </Anchor>
                        </Table.Td>
                        <Table.Td>{d.page_version}</Table.Td>
                        <Table.Td>{d.split}</Table.Td>
                        <Table.Td>{d.labels.join(", ") || "—"}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
              <Pager
                offset={l.offset}
                limit={LINEAGE_PAGE}
                shown={l.documents.length}
                total={l.documents_total}
                nextOffset={l.offset + l.limit < l.documents_total ? l.offset + l.limit : null}
                onChange={(offset) => setState({ offset })}
              />
            </>
          )}
        </Stack>
      )}
    </QueryState>
  );
}

function PredictForm({ model }: { model: Detail }) {
  const [text, setText] = useState("");
  const predict = usePredict(model.name);
  const answer = predict.data?.predictions[0];
  const noProduction = model.production == null;
  return (
    <Card withBorder>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) predict.mutate([text]);
        }}
      >
        <Stack gap="sm">
          <Text fw={600}>Try the production version</Text>
          {noProduction && (
            <Text size="sm" c="dimmed">
              No version is in production yet: promote one to predict with it.
            </Text>
          )}
          <Textarea
            label="Text to label"
            placeholder="Paste a paragraph or a page's text"
            autosize
            minRows={3}
            maxRows={10}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
          />
          <Group>
            <Button type="submit" disabled={noProduction || !text.trim()} loading={predict.isPending}>
              Predict
            </Button>
          </Group>
          {predict.error && <ErrorState error={predict.error} />}
          {answer && (
            <Stack gap={6} aria-label="Prediction" role="region">
              <Text>
                <b data-testid="predicted-label">{answer.label ?? (answer.labels.join(", ") || "no label")}</b>{" "}
                <Text span c="dimmed" size="sm">
                  score {answer.score.toFixed(3)} · version {answer.model_version}
                </Text>
              </Text>
              {Object.entries(answer.probabilities)
                .sort((a, b) => b[1] - a[1])
                .map(([label, p]) => (
                  <Group key={label} gap="xs" wrap="nowrap">
                    <Text size="sm" w={140} truncate>
                      {label}
                    </Text>
                    <Progress value={p * 100} style={{ flex: 1 }} aria-label={`${label} probability`} />
                    <Text size="sm" w={50} ta="right">
                      {(p * 100).toFixed(0)}%
                    </Text>
                  </Group>
                ))}
            </Stack>
          )}
        </Stack>
      </form>
    </Card>
  );
}

function Model({ model }: { model: Detail }) {
  const [state, setState] = useUrlState(SPEC);
  const rollback = useRollback(model.name);
  const token = useToken();
  const shown = state.version || model.production || model.latest || 0;
  const canRollBack = model.production_history.length > 1;
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Group gap="sm">
          <Title order={2}>{model.name}</Title>
          {model.production != null ? (
            <Badge color="teal" data-testid="production-version">
              production: version {model.production}
            </Badge>
          ) : (
            <Badge color="gray" data-testid="production-version">
              nothing in production
            </Badge>
          )}
        </Group>
        <Button
          variant="default"
          disabled={!token || !canRollBack}
          title={!token ? "needs the API token" : canRollBack ? undefined : "no earlier production version"}
          loading={rollback.isPending}
          onClick={() => rollback.mutate(undefined)}
        >
          Roll back
        </Button>
      </Group>
      {model.version_list.length === 0 ? (
        <Empty title="No versions">This model has no registered version.</Empty>
      ) : (
        <>
          <Versions model={model} shown={shown} onShow={(version) => setState({ version, offset: 0 })} />
          <PredictForm model={model} />
          <Title order={4}>Version {shown}: training curves</Title>
          <Curves name={model.name} version={shown} />
          <Title order={4}>Version {shown}: lineage</Title>
          <Lineage name={model.name} version={shown} />
        </>
      )}
      <Title order={4}>Training runs</Title>
      <TrainingRuns model={model.name} />
    </Stack>
  );
}

export default function ModelDetail() {
  const { name = "" } = useParams();
  usePageTitle(`Model ${name}`);
  const model = useModel(name);
  return (
    <Stack>
      <Anchor component={Link} to="/models" size="sm">
        ← Models
      </Anchor>
      <QueryState query={model} loading="Loading the model…">
        {(m) => <Model model={m} />}
      </QueryState>
    </Stack>
  );
}
