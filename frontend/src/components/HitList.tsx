import { Anchor, Badge, Card, Group, Stack, Text } from "@mantine/core";
import { IconExternalLink } from "@tabler/icons-react";
import { Link } from "react-router";
import type { Hit } from "../api/types";
import { formatDate } from "../lib/format";
import { snippetParts } from "../lib/highlight";

export function Snippet({ html }: { html: string }) {
  return (
    <Text size="sm" className="snippet">
      {snippetParts(html).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </Text>
  );
}

/** Search hits (or similar documents): title, where it is from, the best passage with the words marked. */
export function HitList({ hits, offset }: { hits: Hit[]; offset: number }) {
  return (
    <Stack gap="sm" component="ol" style={{ listStyle: "none", padding: 0, margin: 0 }} aria-label="Results">
      {hits.map((hit, i) => (
        <Card key={hit.chunk_id} withBorder padding="sm" component="li" data-testid="hit">
          <Group justify="space-between" wrap="nowrap" align="flex-start">
            <Stack gap={2} style={{ minWidth: 0 }}>
              <Group gap={6} wrap="nowrap">
                <Text c="dimmed" size="sm">
                  {offset + i + 1}.
                </Text>
                <Anchor component={Link} to={`/documents/${hit.document_id}`} fw={600} lineClamp={1}>
                  {hit.title || hit.url}
                </Anchor>
              </Group>
              <Group gap={6}>
                <Anchor href={hit.url} target="_blank" rel="noreferrer" size="xs" c="dimmed" style={{ wordBreak: "break-all" }}>
                  {hit.url} <IconExternalLink size={11} />
                </Anchor>
              </Group>
            </Stack>
            <Badge variant="light" color="gray" style={{ flexShrink: 0 }} title="score">
              {hit.score.toFixed(3)}
            </Badge>
          </Group>
          {hit.heading && (
            <Text size="xs" c="dimmed" mt={4}>
              § {hit.heading}
            </Text>
          )}
          <Snippet html={hit.snippet} />
          <Group gap="xs" mt={6}>
            <Badge size="xs" variant="outline">
              {hit.source}
            </Badge>
            {hit.language && (
              <Badge size="xs" variant="outline" color="gray">
                {hit.language}
              </Badge>
            )}
            {(hit.published_at || hit.fetched_at) && (
              <Text size="xs" c="dimmed">
                {hit.published_at ? `published ${formatDate(hit.published_at)}` : `fetched ${formatDate(hit.fetched_at)}`}
              </Text>
            )}
            {Object.entries(hit.ranks).map(([list, rank]) => (
              <Text key={list} size="xs" c="dimmed">
                {list} #{rank}
              </Text>
            ))}
            <Anchor component={Link} to={`/search?similar=${hit.document_id}`} size="xs">
              Similar documents
            </Anchor>
          </Group>
        </Card>
      ))}
    </Stack>
  );
}
