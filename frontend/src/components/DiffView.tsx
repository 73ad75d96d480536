import { Box, Group, Stack, Text } from "@mantine/core";
import { useMemo } from "react";
import { diffTexts, withContext, type DiffRow } from "../lib/diff";

function Line({ row }: { row: DiffRow }) {
  const sign = row.kind === "added" ? "+" : row.kind === "removed" ? "−" : " ";
  const cls = row.kind === "added" ? "diff-added" : row.kind === "removed" ? "diff-removed" : undefined;
  const words = row.kind !== "same" ? row.words : undefined;
  return (
    <Box className={`diff-row ${cls ?? ""}`} px="xs" data-kind={row.kind}>
      <span aria-hidden>{sign} </span>
      {words
        ? words.map((w, i) =>
            w.changed ? (
              <span key={i} className={row.kind === "added" ? "diff-word-added" : "diff-word-removed"}>
                {w.text}
              </span>
            ) : (
              <span key={i}>{w.text}</span>
            ),
          )
        : row.text || " "}
    </Box>
  );
}

/** What changed between two texts: changed lines with two lines of context, words marked inside. */
export function DiffView({ before, after }: { before: string; after: string }) {
  const diff = useMemo(() => diffTexts(before, after), [before, after]);
  const rows = useMemo(() => withContext(diff.rows, 2), [diff]);
  if (diff.added === 0 && diff.removed === 0) return <Text c="dimmed">The two versions have the same text.</Text>;
  return (
    <Stack gap={4}>
      <Group gap="md">
        <Text size="sm" c="green.7" fw={600}>
          +{diff.added} lines
        </Text>
        <Text size="sm" c="red.7" fw={600}>
          −{diff.removed} lines
        </Text>
        <Text size="sm" c="dimmed">
          {diff.unchanged} unchanged
        </Text>
      </Group>
      <Box style={{ border: "1px solid var(--mantine-color-default-border)", borderRadius: 6 }} role="region" aria-label="Differences">
        {rows.map((row, i) =>
          row.kind === "skip" ? (
            <Text key={i} size="xs" c="dimmed" px="xs" py={2} bg="var(--mantine-color-default-hover)">
              … {row.count} unchanged line{row.count === 1 ? "" : "s"}
            </Text>
          ) : (
            <Line key={i} row={row} />
          ),
        )}
      </Box>
    </Stack>
  );
}
