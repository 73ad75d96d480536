import { Alert, Anchor, Badge, Button, Code, Group, Select, Stack, Table, Tabs, Text, Title } from "@mantine/core";
import { IconExternalLink } from "@tabler/icons-react";
import { Link, useParams } from "react-router";
import { useChunks, useDocument, useDocumentMentions, useSimilar, useVersionText } from "../api/queries";
import type { DocumentDetail as Doc } from "../api/types";
import { DocumentLineage } from "../components/DocumentLineage";
import { DiffView } from "../components/DiffView";
import { EntityText } from "../components/EntityText";
import { HitList } from "../components/HitList";
import { Pager } from "../components/Pager";
import { Empty, ErrorState, Loading, QueryState } from "../components/States";
import { formatDateTime } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { useUrlState } from "../lib/useUrlState";

const TABS = ["text", "metadata", "versions", "chunks", "duplicates", "models"] as const;
const SPEC = {
  tab: { kind: "enum", values: TABS, default: "text" },
  from: { kind: "int", default: 0, min: 0 },
  to: { kind: "int", default: 0, min: 0 },
  offset: { kind: "int", default: 0, min: 0 },
} as const;

function TextTab({ doc }: { doc: Doc }) {
  const chunks = useChunks(doc.id);
  const mentions = useDocumentMentions(doc.id);
  if (!doc.text) return <Empty title="No text was extracted">{doc.skip_reason ?? ""}</Empty>;
  if (chunks.isPending || mentions.isPending) return <Loading />;
  if (chunks.error || mentions.error)
    return <ErrorState error={chunks.error ?? mentions.error} retry={() => void (chunks.refetch(), mentions.refetch())} />;
  const distinct = new Map(mentions.data.map((m) => [m.entity_id, m]));
  return (
    <Stack>
      {distinct.size > 0 && (
        <Group gap={6}>
          <Text size="sm" c="dimmed">
            Mentions:
          </Text>
          {[...distinct.values()].map((m) => (
            <Badge key={m.entity_id} component={Link} to={`/entities/${m.entity_id}`} variant="light" style={{ cursor: "pointer" }} tt="none">
              {m.name}
            </Badge>
          ))}
        </Group>
      )}
      <EntityText text={doc.text} chunks={chunks.data} mentions={mentions.data} />
    </Stack>
  );
}

function MetadataTab({ doc }: { doc: Doc }) {
  const rows: [string, React.ReactNode][] = [
    ["URL", <Anchor href={doc.url} target="_blank" rel="noreferrer" style={{ wordBreak: "break-all" }}>{doc.url}</Anchor>],
    ["Source", <Anchor component={Link} to={`/documents?source=${encodeURIComponent(doc.source)}`}>{doc.source}</Anchor>],
    ["Title", doc.title ?? "—"],
    ["Author", doc.author ?? "—"],
    ["Published", formatDateTime(doc.published_at)],
    ["Language", doc.language ?? "—"],
    ["Description", doc.description ?? "—"],
    ["Page version", String(doc.page_version)],
    ["Skipped", doc.skip_reason ?? "no"],
  ];
  return (
    <Stack>
      <Table aria-label="Metadata" variant="vertical" layout="fixed">
        <Table.Tbody>
          {rows.map(([key, value]) => (
            <Table.Tr key={key}>
              <Table.Th w={140}>{key}</Table.Th>
              <Table.Td>{value}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {doc.fields && Object.keys(doc.fields).length > 0 && (
        <>
          <Title order={5}>Extracted fields</Title>
          <Code block>{JSON.stringify(doc.fields, null, 2)}</Code>
        </>
      )}
      <Title order={5}>Extraction</Title>
      <Code block>{JSON.stringify(doc.meta, null, 2)}</Code>
    </Stack>
  );
}

function VersionsTab({ doc, from, to, onPick }: { doc: Doc; from: number; to: number; onPick: (c: { from?: number; to?: number }) => void }) {
  const versions = doc.versions.map((v) => v.page_version);
  const newest = versions[versions.length - 1] ?? 0;
  const older = versions[versions.length - 2] ?? 0;
  const a = versions.includes(from) ? from : older;
  const b = versions.includes(to) ? to : newest;
  const before = useVersionText(doc.id, versions.length > 1 ? a : null);
  const after = useVersionText(doc.id, versions.length > 1 ? b : null);
  const options = doc.versions.map((v) => ({
    value: String(v.page_version),
    label: `version ${v.page_version} · ${formatDateTime(v.processed_at)}`,
  }));
  return (
    <Stack>
      <Table aria-label="Versions">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Page version</Table.Th>
            <Table.Th>Processed</Table.Th>
            <Table.Th>Text hash</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {doc.versions.map((v) => (
            <Table.Tr key={v.page_version}>
              <Table.Td>{v.page_version}</Table.Td>
              <Table.Td>{formatDateTime(v.processed_at)}</Table.Td>
              <Table.Td>
                <Code>{v.text_hash?.slice(0, 12) ?? "—"}</Code>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {versions.length < 2 ? (
        <Empty title="Only one version so far">A new version is kept each time the page's content changes.</Empty>
      ) : (
        <>
          <Group align="flex-end">
            <Select label="Compare" data={options} value={String(a)} onChange={(v) => v && onPick({ from: Number(v) })} allowDeselect={false} />
            <Select label="with" data={options} value={String(b)} onChange={(v) => v && onPick({ to: Number(v) })} allowDeselect={false} />
          </Group>
          {before.isPending || after.isPending ? (
            <Loading label="Loading both versions…" />
          ) : before.error || after.error ? (
            <ErrorState error={before.error ?? after.error} retry={() => void (before.refetch(), after.refetch())} />
          ) : (
            <DiffView before={before.data!.text} after={after.data!.text} />
          )}
        </>
      )}
    </Stack>
  );
}

function ChunksTab({ doc }: { doc: Doc }) {
  const chunks = useChunks(doc.id);
  return (
    <QueryState query={chunks}>
      {(data) =>
        data.length === 0 ? (
          <Empty title="No chunks">{doc.duplicate_of ? "A duplicate is not chunked: its original is." : "Nothing was indexed."}</Empty>
        ) : (
          <Table.ScrollContainer minWidth={500}>
            <Table aria-label="Chunks" verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>#</Table.Th>
                  <Table.Th>Heading</Table.Th>
                  <Table.Th>Tokens</Table.Th>
                  <Table.Th>Text</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td>{c.ordinal}</Table.Td>
                    <Table.Td>{c.heading ?? "—"}</Table.Td>
                    <Table.Td>{c.tokens}</Table.Td>
                    <Table.Td>
                      <Text size="sm" lineClamp={4}>
                        {c.text}
                      </Text>
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

function DuplicatesTab({ doc, offset, onPage }: { doc: Doc; offset: number; onPage: (offset: number) => void }) {
  const similar = useSimilar(doc.id, offset, 10);
  return (
    <Stack>
      {doc.duplicate_of ? (
        <Alert color="yellow">
          This document duplicates <Anchor component={Link} to={`/documents/${doc.duplicate_of}`}>#{doc.duplicate_of}</Anchor>{" "}
          (same or nearly the same text).
        </Alert>
      ) : null}
      {doc.duplicates.length > 0 ? (
        <Group gap="xs">
          <Text size="sm">Near-duplicates of this document:</Text>
          {doc.duplicates.map((d) => (
            <Anchor key={d} component={Link} to={`/documents/${d}`}>
              #{d}
            </Anchor>
          ))}
        </Group>
      ) : (
        !doc.duplicate_of && <Text size="sm" c="dimmed">No near-duplicates of this document.</Text>
      )}
      <Title order={5}>Similar documents</Title>
      <QueryState query={similar} loading="Finding similar documents…">
        {(found) =>
          found.items.length === 0 ? (
            <Empty title="No similar documents">{found.warnings.join(" ")}</Empty>
          ) : (
            <Stack>
              <HitList hits={found.items} offset={found.offset} />
              <Pager offset={offset} limit={10} shown={found.items.length} nextOffset={found.next_offset} onChange={onPage} />
            </Stack>
          )
        }
      </QueryState>
    </Stack>
  );
}

export default function DocumentDetail() {
  const id = Number(useParams().id);
  const document = useDocument(id);
  const [state, setState] = useUrlState(SPEC, "offset");
  usePageTitle(document.data?.title ?? `Document #${id}`);
  return (
    <QueryState query={document} loading="Loading the document…">
      {(doc) => (
        <Stack>
          <Stack gap={4}>
            <Anchor component={Link} to="/documents" size="sm">
              ← Documents
            </Anchor>
            <Title order={2}>{doc.title || "(untitled)"}</Title>
            <Group gap="xs">
              <Badge variant="light">{doc.source}</Badge>
              {doc.language && <Badge variant="outline" color="gray">{doc.language}</Badge>}
              {doc.published_at && <Text size="sm" c="dimmed">published {formatDateTime(doc.published_at)}</Text>}
              {doc.author && <Text size="sm" c="dimmed">by {doc.author}</Text>}
              <Button
                component="a"
                href={doc.url}
                target="_blank"
                rel="noreferrer"
                size="compact-sm"
                variant="subtle"
                rightSection={<IconExternalLink size={14} />}
              >
                Original page
              </Button>
            </Group>
          </Stack>
          <Tabs value={state.tab} onChange={(tab) => setState({ tab: (tab ?? "text") as (typeof TABS)[number] }, { replace: true })} keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="text">Text</Tabs.Tab>
              <Tabs.Tab value="metadata">Metadata</Tabs.Tab>
              <Tabs.Tab value="versions">Versions ({doc.versions.length})</Tabs.Tab>
              <Tabs.Tab value="chunks">Chunks</Tabs.Tab>
              <Tabs.Tab value="duplicates">Duplicates & similar</Tabs.Tab>
              <Tabs.Tab value="models">Models</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="text" pt="md">
              <TextTab doc={doc} />
            </Tabs.Panel>
            <Tabs.Panel value="metadata" pt="md">
              <MetadataTab doc={doc} />
            </Tabs.Panel>
            <Tabs.Panel value="versions" pt="md">
              <VersionsTab doc={doc} from={state.from} to={state.to} onPick={(c) => setState(c, { replace: true })} />
            </Tabs.Panel>
            <Tabs.Panel value="chunks" pt="md">
              <ChunksTab doc={doc} />
            </Tabs.Panel>
            <Tabs.Panel value="duplicates" pt="md">
              <DuplicatesTab doc={doc} offset={state.offset} onPage={(offset) => setState({ offset })} />
            </Tabs.Panel>
            <Tabs.Panel value="models" pt="md">
              <DocumentLineage id={doc.id} />
            </Tabs.Panel>
          </Tabs>
        </Stack>
      )}
    </QueryState>
  );
}
