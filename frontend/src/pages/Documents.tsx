import { Anchor, Badge, Stack, Text, Title } from "@mantine/core";
import { createColumnHelper } from "@tanstack/react-table";
import { useMemo } from "react";
import { Link } from "react-router";
import { useDocuments } from "../api/queries";
import type { DocumentSummary } from "../api/types";
import { DataTable } from "../components/DataTable";
import { DocumentFilters } from "../components/Filters";
import { Pager } from "../components/Pager";
import { Empty, QueryState } from "../components/States";
import { usePageTitle } from "../lib/usePageTitle";
import { useUrlState } from "../lib/useUrlState";

const PAGE = 50;
const SPEC = {
  source: { kind: "string" },
  language: { kind: "list" },
  date_from: { kind: "string" },
  date_to: { kind: "string" },
  label: { kind: "list" },
  offset: { kind: "int", default: 0, min: 0 },
} as const;
const column = createColumnHelper<DocumentSummary>();

function status(d: DocumentSummary) {
  if (d.skip_reason) return <Badge color="gray" variant="light">skipped: {d.skip_reason}</Badge>;
  if (d.duplicate_of)
    return (
      <Badge color="yellow" variant="light" component={Link} to={`/documents/${d.duplicate_of}`} style={{ cursor: "pointer" }}>
        duplicate of #{d.duplicate_of}
      </Badge>
    );
  return <Badge color="teal" variant="light">indexed</Badge>;
}

export default function Documents() {
  usePageTitle("Documents");
  const [state, setState] = useUrlState(SPEC);
  const documents = useDocuments({ ...state, limit: PAGE });
  const filtered = !!(state.source || state.language.length || state.date_from || state.date_to || state.label.length);

  const columns = useMemo(
    () => [
      column.accessor("id", { header: "#", cell: (c) => <Text c="dimmed">{c.getValue()}</Text> }),
      column.accessor((d) => d.title ?? d.url, {
        id: "title",
        header: "Title",
        cell: (c) => (
          <Stack gap={0}>
            <Anchor component={Link} to={`/documents/${c.row.original.id}`} fw={600}>
              {c.row.original.title || "(untitled)"}
            </Anchor>
            <Text size="xs" c="dimmed" style={{ wordBreak: "break-all" }}>
              {c.row.original.url}
            </Text>
          </Stack>
        ),
      }),
      column.accessor("source", { header: "Source" }),
      column.accessor((d) => d.language ?? "", { id: "language", header: "Language" }),
      column.accessor("chunks", { header: "Chunks" }),
      column.display({ id: "status", header: "Status", cell: (c) => status(c.row.original) }),
    ],
    [],
  );

  return (
    <Stack>
      <Title order={2}>Documents</Title>
      <DocumentFilters
        source={state.source ? [state.source] : []}
        language={state.language}
        dateFrom={state.date_from}
        dateTo={state.date_to}
        label={state.label}
        onChange={({ source, ...rest }) =>
          setState({ ...rest, ...(source !== undefined ? { source: source[0] ?? "" } : {}) })
        }
      />
      <QueryState query={documents} loading="Loading documents…">
        {(page) => (
          <Stack>
            <DataTable
              label="Documents"
              data={page.items}
              columns={columns}
              empty={
                <Empty title={filtered ? "No document matches these filters" : "No documents yet"}>
                  {filtered
                    ? "Clear a filter to see more."
                    : "Documents appear when a source's pipeline has crawled and processed pages."}
                </Empty>
              }
            />
            <Pager
              offset={state.offset}
              limit={PAGE}
              shown={page.items.length}
              total={page.total}
              nextOffset={page.next_offset}
              onChange={(offset) => setState({ offset })}
            />
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
