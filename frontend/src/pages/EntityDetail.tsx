import { Anchor, Badge, Button, Card, Code, Group, Modal, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { BarChart } from "../components/Charts";
import { notifications } from "@mantine/notifications";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useEntity, useEntityMentions, useEntitySearch, useMergeEntities, useSplitEntities } from "../api/queries";
import type { EntityView } from "../api/types";
import { Pager } from "../components/Pager";
import { Empty, QueryState } from "../components/States";
import { usePageTitle } from "../lib/usePageTitle";
import { useToken } from "../lib/useToken";
import { useUrlState } from "../lib/useUrlState";

const SPEC = { offset: { kind: "int", default: 0, min: 0 } } as const;
const MENTIONS = 25;

function MergeDialog({ entity, opened, onClose }: { entity: EntityView; opened: boolean; onClose: () => void }) {
  const [q, setQ] = useState("");
  const found = useEntitySearch(q, entity.type);
  const merge = useMergeEntities();
  const candidates = (found.data ?? []).filter((e) => e.id !== entity.id);
  return (
    <Modal opened={opened} onClose={onClose} title={`Merge another entity into ${entity.name}`} size="lg">
      <Stack>
        <Text size="sm">
          Merged entities are one cluster from now on; the decision is kept across every later resolution.
        </Text>
        <TextInput label="Find the other entity" value={q} onChange={(e) => setQ(e.currentTarget.value)} data-autofocus />
        {q && (
          <QueryState query={found}>
            {() =>
              candidates.length === 0 ? (
                <Text size="sm" c="dimmed">
                  No other {entity.type} named like that.
                </Text>
              ) : (
                <Stack gap={4}>
                  {candidates.slice(0, 8).map((c) => (
                    <Group key={c.id} justify="space-between" wrap="nowrap">
                      <Stack gap={0}>
                        <Text fw={600}>{c.name}</Text>
                        <Text size="xs" c="dimmed" lineClamp={1}>
                          {c.aliases.join(" · ")} · {c.mentions} mentions
                        </Text>
                      </Stack>
                      <Button
                        size="xs"
                        loading={merge.isPending && merge.variables?.second === c.id}
                        onClick={() =>
                          merge.mutate(
                            { first: entity.id, second: c.id },
                            {
                              onSuccess: () => {
                                notifications.show({ color: "teal", message: `${c.name} merged into ${entity.name}` });
                                onClose();
                              },
                            },
                          )
                        }
                        aria-label={`Merge ${c.name}`}
                      >
                        Merge
                      </Button>
                    </Group>
                  ))}
                </Stack>
              )
            }
          </QueryState>
        )}
      </Stack>
    </Modal>
  );
}

function Members({ entity }: { entity: EntityView }) {
  const token = useToken();
  const split = useSplitEntities();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState<number | null>(null);
  if (entity.members.length < 2)
    return <Text size="sm" c="dimmed">One catalog entry; nothing merged into it.</Text>;
  return (
    <Stack gap={4}>
      {entity.members.map((member) => (
        <Group key={member} justify="space-between">
          <Text size="sm">
            entry #{member}
            {member === entity.id ? " (head)" : ""}
          </Text>
          {member !== entity.id && (
            <Button
              size="compact-xs"
              variant="light"
              color="orange"
              disabled={!token}
              onClick={() => setConfirm(member)}
              aria-label={`Split off entry #${member}`}
            >
              Split off
            </Button>
          )}
        </Group>
      ))}
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title="Split this entry off?" centered>
        <Stack>
          <Text>
            Entry #{confirm} and {entity.name} are different things: they will never be merged again, whatever resolution
            finds.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(null)}>
              Keep together
            </Button>
            <Button
              color="orange"
              loading={split.isPending}
              onClick={() =>
                confirm !== null &&
                split.mutate(
                  { first: entity.id, second: confirm },
                  {
                    onSuccess: (result) => {
                      setConfirm(null);
                      const other = result.second;
                      notifications.show({ color: "orange", message: `Split: ${other?.name ?? "entry"} is its own entity now` });
                      if (other && entity.members.length <= 2) navigate(`/entities/${entity.id}`, { replace: true });
                    },
                  },
                )
              }
            >
              Split
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function Mentions({ entity }: { entity: EntityView }) {
  const [state, setState] = useUrlState(SPEC);
  const mentions = useEntityMentions(entity.id, state.offset, MENTIONS);
  return (
    <QueryState query={mentions}>
      {(rows) => {
        const page = rows.items;
        return page.length === 0 ? (
          <Empty title="No mentions yet">Mentions are found when the entities stage scans new chunks.</Empty>
        ) : (
          <Stack>
            <Table.ScrollContainer minWidth={500}>
              <Table aria-label="Mentions" verticalSpacing="xs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Written as</Table.Th>
                    <Table.Th>Document</Table.Th>
                    <Table.Th>Score</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.map((m) => (
                    <Table.Tr key={`${m.chunk_id}-${m.start}`}>
                      <Table.Td>
                        <mark>{m.surface}</mark>
                        {m.ambiguous && (
                          <Badge size="xs" color="yellow" ml={4}>
                            ambiguous
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Anchor component={Link} to={`/documents/${m.document_id}`}>
                          {m.title ?? m.url}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{m.score.toFixed(0)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            <Pager
              offset={state.offset}
              limit={MENTIONS}
              shown={page.length}
              total={entity.mentions}
              nextOffset={rows.next_offset}
              onChange={(offset) => setState({ offset })}
            />
          </Stack>
        );
      }}
    </QueryState>
  );
}

export default function EntityDetail() {
  const id = Number(useParams().id);
  const entity = useEntity(id);
  const token = useToken();
  const [merging, setMerging] = useState(false);
  usePageTitle(entity.data?.name ?? `Entity ${id}`);
  return (
    <QueryState query={entity} loading="Loading the entity…">
      {(e) => (
        <Stack>
          <Stack gap={4}>
            <Anchor component={Link} to="/entities" size="sm">
              ← Entities
            </Anchor>
            <Group justify="space-between">
              <Group gap="sm">
                <Title order={2}>{e.name}</Title>
                <Badge variant="light">{e.type}</Badge>
              </Group>
              <Group gap="xs">
                <Button variant="light" component={Link} to={`/search?q=${encodeURIComponent(e.name)}&entity=${e.id}`}>
                  Documents mentioning it
                </Button>
                <Button onClick={() => setMerging(true)} disabled={!token} title={token ? undefined : "needs the API token"}>
                  Merge with…
                </Button>
              </Group>
            </Group>
            {e.id !== id && (
              <Text size="sm" c="dimmed">
                Entry #{id} belongs to this entity's cluster.
              </Text>
            )}
            <Text size="sm" c="dimmed">
              {e.mentions} mentions in {e.documents} documents
            </Text>
          </Stack>
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Card withBorder>
              <Title order={5} mb="xs">
                Aliases
              </Title>
              <Group gap={6}>
                {e.aliases.map((a) => (
                  <Badge key={a} variant="outline" tt="none">
                    {a}
                  </Badge>
                ))}
              </Group>
              <Title order={5} mt="md" mb="xs">
                Catalog entries in this cluster
              </Title>
              <Members entity={e} />
              {Object.keys(e.attributes).length > 0 && (
                <>
                  <Title order={5} mt="md" mb="xs">
                    Attributes
                  </Title>
                  <Code block>{JSON.stringify(e.attributes, null, 2)}</Code>
                </>
              )}
            </Card>
            <Card withBorder>
              <Title order={5} mb="xs">
                Mentions per month
              </Title>
              {e.trend.length === 0 ? (
                <Empty title="No mentions yet" />
              ) : (
                <BarChart h={200} data={e.trend} dataKey="month" series={[{ name: "mentions", color: "teal.6" }, { name: "documents", color: "blue.4" }]} withLegend />
              )}
              <Title order={5} mt="md" mb="xs">
                Related (mentioned together)
              </Title>
              {e.related.length === 0 ? (
                <Text size="sm" c="dimmed">
                  No other entity appears in the same passages.
                </Text>
              ) : (
                <Stack gap={4}>
                  {e.related.map((r) => (
                    <Group key={r.id} justify="space-between">
                      <Anchor component={Link} to={`/entities/${r.id}`}>
                        {r.name}
                      </Anchor>
                      <Text size="xs" c="dimmed">
                        {r.type} · {r.chunks} passages · {r.documents} documents
                      </Text>
                    </Group>
                  ))}
                </Stack>
              )}
            </Card>
          </SimpleGrid>
          <Card withBorder>
            <Title order={5} mb="xs">
              Mentions
            </Title>
            <Mentions entity={e} />
          </Card>
          <MergeDialog entity={e} opened={merging} onClose={() => setMerging(false)} />
        </Stack>
      )}
    </QueryState>
  );
}
