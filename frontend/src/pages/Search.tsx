import { Alert, Anchor, Badge, Button, Card, Grid, Group, SegmentedControl, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconSearch, IconX } from "@tabler/icons-react";
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useDocument, useEntityFacets, useSearch, useSimilar } from "../api/queries";
import { DocumentFilters } from "../components/Filters";
import { HitList } from "../components/HitList";
import { Pager } from "../components/Pager";
import { Empty, QueryState } from "../components/States";
import { usePageTitle } from "../lib/usePageTitle";
import { useUrlState } from "../lib/useUrlState";

const MODES = ["hybrid", "vector", "keyword"] as const;
const PAGE = 10;
const SPEC = {
  q: { kind: "string" },
  mode: { kind: "enum", values: MODES, default: "hybrid" },
  source: { kind: "list" },
  language: { kind: "list" },
  date_from: { kind: "string" },
  date_to: { kind: "string" },
  label: { kind: "list" },
  entity: { kind: "list" },
  similar: { kind: "int", default: 0, min: 0 },
  focus: { kind: "bool", default: false },
  offset: { kind: "int", default: 0, min: 0, max: 990 },
} as const;

function Facets({ documents, selected, onToggle }: { documents: number[]; selected: string[]; onToggle: (id: string) => void }) {
  const facets = useEntityFacets(documents);
  if (!documents.length) return null;
  return (
    <Card withBorder padding="sm">
      <Text fw={600} size="sm" mb={6}>
        Entities in these results
      </Text>
      <QueryState query={facets}>
        {(data) =>
          data.length === 0 ? (
            <Text size="sm" c="dimmed">
              No known entity is mentioned.
            </Text>
          ) : (
            <Stack gap={4}>
              {data.map((f) => {
                const on = selected.includes(String(f.entity_id));
                return (
                  <Group key={f.entity_id} justify="space-between" wrap="nowrap">
                    <Button
                      variant={on ? "filled" : "subtle"}
                      size="compact-sm"
                      onClick={() => onToggle(String(f.entity_id))}
                      aria-pressed={on}
                      title={on ? "remove this filter" : "only documents mentioning it"}
                      styles={{ label: { whiteSpace: "normal", textAlign: "left" } }}
                    >
                      {f.name}
                    </Button>
                    <Badge variant="light" color="gray" size="sm">
                      {f.documents}
                    </Badge>
                  </Group>
                );
              })}
            </Stack>
          )
        }
      </QueryState>
    </Card>
  );
}

function SimilarTo({ id, offset, onPage, onClose }: { id: number; offset: number; onPage: (o: number) => void; onClose: () => void }) {
  const doc = useDocument(id);
  const similar = useSimilar(id, offset, PAGE);
  return (
    <Stack>
      <Group justify="space-between">
        <Text>
          Documents similar to{" "}
          <Anchor component={Link} to={`/documents/${id}`} fw={600}>
            {doc.data?.title ?? `#${id}`}
          </Anchor>
        </Text>
        <Button variant="subtle" size="xs" leftSection={<IconX size={14} />} onClick={onClose}>
          Back to search
        </Button>
      </Group>
      <QueryState query={similar} loading="Finding similar documents…">
        {(found) =>
          found.items.length === 0 ? (
            <Empty title="No similar documents">{found.warnings.join(" ")}</Empty>
          ) : (
            <Stack>
              <HitList hits={found.items} offset={found.offset} />
              <Pager offset={offset} limit={PAGE} shown={found.items.length} nextOffset={found.next_offset} onChange={onPage} />
            </Stack>
          )
        }
      </QueryState>
    </Stack>
  );
}

export default function Search() {
  const [state, setState] = useUrlState(SPEC);
  usePageTitle(state.q ? `Search: ${state.q}` : "Search");
  const [draft, setDraft] = useState(state.q);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setDraft(state.q), [state.q]);
  useEffect(() => {
    if (state.focus) {
      input.current?.focus();
      setState({ focus: false }, { replace: true });
    }
  }, [state.focus, setState]);
  const entity = state.entity.map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const results = useSearch({ ...state, entity, limit: PAGE });
  const hitIds = results.data?.items.map((h) => h.document_id) ?? [];

  if (state.similar) {
    return (
      <Stack>
        <Title order={2}>Search</Title>
        <SimilarTo
          id={state.similar}
          offset={state.offset}
          onPage={(offset) => setState({ offset })}
          onClose={() => setState({ similar: 0 })}
        />
      </Stack>
    );
  }

  return (
    <Stack>
      <Title order={2}>Search</Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setState({ q: draft.trim() });
        }}
      >
        <Group align="flex-end" gap="sm" wrap="wrap">
          <TextInput
            ref={input}
            aria-label="Query"
            placeholder='words, "a phrase", -without'
            value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)}
            leftSection={<IconSearch size={16} />}
            style={{ flex: "1 1 320px" }}
            size="md"
          />
          <Button type="submit" size="md">
            Search
          </Button>
        </Group>
      </form>
      <Group gap="sm" align="flex-end" wrap="wrap">
        <Stack gap={2}>
          <Text size="sm" fw={500}>
            Mode
          </Text>
          <SegmentedControl
            aria-label="Search mode"
            value={state.mode}
            onChange={(mode) => setState({ mode: mode as (typeof MODES)[number] })}
            data={[
              { value: "hybrid", label: "Hybrid" },
              { value: "vector", label: "Vector" },
              { value: "keyword", label: "Keyword" },
            ]}
          />
        </Stack>
        <DocumentFilters
          multiSource
          source={state.source}
          language={state.language}
          dateFrom={state.date_from}
          dateTo={state.date_to}
          label={state.label}
          onChange={(c) => setState(c)}
        />
      </Group>
      {entity.length > 0 && (
        <Group gap="xs">
          <Text size="sm">Mentioning:</Text>
          {entity.map((id) => (
            <Badge
              key={id}
              rightSection={
                <IconX size={12} style={{ cursor: "pointer" }} onClick={() => setState({ entity: state.entity.filter((e) => e !== String(id)) })} />
              }
            >
              <Anchor component={Link} to={`/entities/${id}`} c="inherit" size="xs">
                entity {id}
              </Anchor>
            </Badge>
          ))}
        </Group>
      )}
      {!state.q ? (
        <Empty title="Search every document">
          Hybrid fuses meaning (vectors) and words (full text); filters narrow by source, language, date, label or entity.
        </Empty>
      ) : (
        <Grid>
          <Grid.Col span={{ base: 12, md: 8 }}>
            <QueryState query={results} loading="Searching…">
              {(found) => (
                <Stack>
                  <Text size="sm" c="dimmed">
                    {found.mode} · {found.took_ms.toFixed(0)} ms{found.model ? ` · ${found.model}` : ""}
                  </Text>
                  {found.warnings.map((w) => (
                    <Alert key={w} color="yellow" p="xs">
                      {w}
                    </Alert>
                  ))}
                  {found.items.length === 0 ? (
                    <Empty title="Nothing found">Try other words, another mode, or fewer filters.</Empty>
                  ) : (
                    <HitList hits={found.items} offset={found.offset} />
                  )}
                  <Pager
                    offset={state.offset}
                    limit={PAGE}
                    shown={found.items.length}
                    nextOffset={found.next_offset}
                    onChange={(offset) => setState({ offset })}
                  />
                </Stack>
              )}
            </QueryState>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 4 }}>
            <Facets
              documents={hitIds}
              selected={state.entity}
              onToggle={(id) =>
                setState({ entity: state.entity.includes(id) ? state.entity.filter((e) => e !== id) : [...state.entity, id] })
              }
            />
          </Grid.Col>
        </Grid>
      )}
    </Stack>
  );
}
