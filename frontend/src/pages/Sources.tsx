import { ActionIcon, Anchor, Badge, Button, Group, Menu, Modal, Stack, Text, Title, Tooltip } from "@mantine/core";
import { IconDots, IconPencil, IconPlayerPlay, IconPlus, IconTrash } from "@tabler/icons-react";
import { createColumnHelper } from "@tanstack/react-table";
import { useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { useRemoveSource, useRunSource, useSources } from "../api/queries";
import type { Source } from "../api/types";
import { DataTable } from "../components/DataTable";
import { SourceForm } from "../components/SourceForm";
import { Empty, QueryState } from "../components/States";
import { useToken } from "../lib/useToken";
import { useUrlState } from "../lib/useUrlState";
import { usePageTitle } from "../lib/usePageTitle";

const SPEC = { new: { kind: "bool", default: false }, edit: { kind: "string" } } as const;
const column = createColumnHelper<Source>();

function Actions({ source, onRemove }: { source: Source; onRemove: (s: Source) => void }) {
  const token = useToken();
  const run = useRunSource();
  const navigate = useNavigate();
  const [, setState] = useUrlState(SPEC, null);
  const needToken = token ? undefined : "needs the API token";
  return (
    <Group gap={4} wrap="nowrap" justify="flex-end">
      <Tooltip label={needToken ?? "crawl → process → entities → embed"}>
        <Button
          size="xs"
          variant="light"
          leftSection={<IconPlayerPlay size={14} />}
          disabled={!token}
          loading={run.isPending}
          onClick={() => run.mutate(source.name, { onSuccess: (p) => navigate(`/pipelines/${p.id}`) })}
          aria-label={`Run ${source.name} now`}
        >
          Run now
        </Button>
      </Tooltip>
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <ActionIcon variant="subtle" aria-label={`More actions for ${source.name}`}>
            <IconDots size={16} />
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item leftSection={<IconPencil size={14} />} onClick={() => setState({ edit: source.name })}>
            Edit
          </Menu.Item>
          <Menu.Item component={Link} to={`/pipelines?source=${encodeURIComponent(source.name)}`}>
            Runs
          </Menu.Item>
          <Menu.Item component={Link} to={`/documents?source=${encodeURIComponent(source.name)}`}>
            Documents
          </Menu.Item>
          <Menu.Divider />
          <Menu.Item color="red" leftSection={<IconTrash size={14} />} disabled={!token} onClick={() => onRemove(source)}>
            Remove…
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
    </Group>
  );
}

export default function Sources() {
  usePageTitle("Sources");
  const sources = useSources();
  const token = useToken();
  const [state, setState] = useUrlState(SPEC, null);
  const [removing, setRemoving] = useState<Source | null>(null);
  const remove = useRemoveSource();
  const editing = state.edit ? sources.data?.find((s) => s.name === state.edit) : undefined;

  const columns = useMemo(
    () => [
      column.accessor("name", { header: "Name", cell: (c) => <Text fw={600}>{c.getValue()}</Text> }),
      column.accessor((s) => [...(s.start_urls ?? []), ...(s.sitemap_urls ?? [])].join(" "), {
        id: "urls",
        header: "Start",
        enableSorting: false,
        cell: (c) => (
          <Stack gap={0}>
            {[...(c.row.original.start_urls ?? []), ...(c.row.original.sitemap_urls ?? [])].slice(0, 3).map((u) => (
              <Anchor key={u} href={u} target="_blank" rel="noreferrer" size="sm" style={{ wordBreak: "break-all" }}>
                {u}
              </Anchor>
            ))}
          </Stack>
        ),
      }),
      column.accessor("render", { header: "Render", cell: (c) => <Badge variant="light">{c.getValue()}</Badge> }),
      column.accessor((s) => s.schedule ?? "", {
        id: "schedule",
        header: "Schedule",
        cell: (c) => (c.getValue() ? <code>{c.getValue()}</code> : <Text c="dimmed" size="sm">by hand</Text>),
      }),
      column.accessor((s) => Object.keys(s.labels ?? {}).length, {
        id: "labels",
        header: "Labels",
        cell: (c) => (
          <Group gap={4}>
            {Object.entries(c.row.original.labels ?? {}).map(([k, v]) => (
              <Badge key={k} variant="outline" size="sm" tt="none">
                {v ? `${k}=${v}` : k}
              </Badge>
            ))}
          </Group>
        ),
      }),
      column.display({
        id: "actions",
        header: "",
        cell: (c) => <Actions source={c.row.original} onRemove={setRemoving} />,
      }),
    ],
    [],
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Sources</Title>
        <Tooltip label="needs the API token" disabled={!!token}>
          <Button leftSection={<IconPlus size={16} />} onClick={() => setState({ new: true })} disabled={!token}>
            New source
          </Button>
        </Tooltip>
      </Group>
      <QueryState query={sources}>
        {(data) => (
          <DataTable
            label="Sources"
            data={data}
            columns={columns}
            empty={
              <Empty title="No sources yet">
                A source is a site to crawl: start URLs, a scope, a schedule. Add one with “New source”.
              </Empty>
            }
          />
        )}
      </QueryState>
      <Modal
        opened={state.new || !!state.edit}
        onClose={() => setState({ new: false, edit: "" })}
        title={state.edit ? `Edit source ${state.edit}` : "New source"}
        size="lg"
        fullScreen={typeof window !== "undefined" && window.innerWidth < 600}
      >
        {state.new && <SourceForm onDone={() => setState({ new: false })} />}
        {state.edit && editing && <SourceForm key={editing.name} existing={editing} onDone={() => setState({ edit: "" })} />}
        {state.edit && sources.data && !editing && <Text>No source named {state.edit}.</Text>}
      </Modal>
      <Modal opened={!!removing} onClose={() => setRemoving(null)} title="Remove source?" centered>
        <Stack>
          <Text>
            Remove <b>{removing?.name}</b> with its crawl runs, pages, documents, chunks and vectors? This cannot be
            undone.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRemoving(null)}>
              Keep it
            </Button>
            <Button
              color="red"
              loading={remove.isPending}
              onClick={() => removing && remove.mutate(removing.name, { onSuccess: () => setRemoving(null) })}
            >
              Remove {removing?.name}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
