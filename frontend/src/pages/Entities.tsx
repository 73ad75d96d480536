import { Anchor, Badge, Button, Group, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconSearch } from "@tabler/icons-react";
import { createColumnHelper } from "@tanstack/react-table";
import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { useEntitySearch } from "../api/queries";
import type { EntitySummary } from "../api/types";
import { DataTable } from "../components/DataTable";
import { Empty, QueryState } from "../components/States";
import { usePageTitle } from "../lib/usePageTitle";
import { useUrlState } from "../lib/useUrlState";

const SPEC = { q: { kind: "string" }, type: { kind: "string" } } as const;
const TYPES = ["organization", "person", "place", "product"];
const column = createColumnHelper<EntitySummary>();

export default function Entities() {
  usePageTitle("Entities");
  const [state, setState] = useUrlState(SPEC, null);
  const [draft, setDraft] = useState(state.q);
  useEffect(() => setDraft(state.q), [state.q]);
  const found = useEntitySearch(state.q, state.type);

  const columns = useMemo(
    () => [
      column.accessor("name", {
        header: "Name",
        cell: (c) => (
          <Anchor component={Link} to={`/entities/${c.row.original.id}`} fw={600}>
            {c.getValue()}
          </Anchor>
        ),
      }),
      column.accessor("type", { header: "Type", cell: (c) => <Badge variant="light">{c.getValue()}</Badge> }),
      column.accessor((e) => e.aliases.length, {
        id: "aliases",
        header: "Aliases",
        cell: (c) => (
          <Text size="sm" lineClamp={2}>
            {c.row.original.aliases.join(" · ")}
          </Text>
        ),
      }),
      column.accessor("mentions", { header: "Mentions" }),
      column.accessor("documents", { header: "Documents" }),
      column.accessor((e) => e.score ?? 0, {
        id: "score",
        header: "Match",
        cell: (c) => (c.row.original.score != null ? `${c.row.original.score.toFixed(0)}%` : "—"),
      }),
    ],
    [],
  );

  return (
    <Stack>
      <Title order={2}>Entities</Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setState({ q: draft.trim() });
        }}
      >
        <Group align="flex-end" wrap="wrap">
          <TextInput
            label="Name"
            placeholder="typos welcome, e.g. Globx Industires"
            value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)}
            leftSection={<IconSearch size={16} />}
            style={{ flex: "1 1 280px" }}
          />
          <Select
            label="Type"
            placeholder="any"
            data={TYPES}
            value={state.type || null}
            onChange={(v) => setState({ type: v ?? "" })}
            clearable
            w={170}
          />
          <Button type="submit">Look up</Button>
        </Group>
      </form>
      {!state.q ? (
        <Empty title="Look up an organisation, a person or a place">
          Names are matched fuzzily across every alias: “ACME Corp.”, “Acme Corporation” and “Acmee Corp” find the same
          company.
        </Empty>
      ) : (
        <QueryState query={found} loading="Looking up…">
          {(data) => (
            <DataTable
              label="Entities"
              data={data}
              columns={columns}
              initialSort={[{ id: "score", desc: true }]}
              empty={<Empty title={`No entity named like “${state.q}”`}>Check the spelling, or import a catalog with `harvest entities import`.</Empty>}
            />
          )}
        </QueryState>
      )}
    </Stack>
  );
}
