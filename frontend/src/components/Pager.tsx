import { Button, Group, Text } from "@mantine/core";
import { formatCount } from "../lib/format";

/** Previous / next over an offset-paged list; shows "21–40 of 93" when the total is known. */
export function Pager({
  offset,
  limit,
  shown,
  total,
  nextOffset,
  onChange,
}: {
  offset: number;
  limit: number;
  shown: number;
  total?: number | null;
  nextOffset: number | null | undefined;
  onChange: (offset: number) => void;
}) {
  if (offset === 0 && nextOffset == null) {
    return total != null ? (
      <Text size="sm" c="dimmed">
        {formatCount(total)} in all
      </Text>
    ) : null;
  }
  return (
    <Group justify="space-between" wrap="wrap">
      <Text size="sm" c="dimmed">
        {shown ? `${formatCount(offset + 1)}–${formatCount(offset + shown)}` : "none"}
        {total != null ? ` of ${formatCount(total)}` : ""}
      </Text>
      <Group gap="xs">
        <Button variant="default" size="xs" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
          Previous
        </Button>
        <Button variant="default" size="xs" disabled={nextOffset == null} onClick={() => nextOffset != null && onChange(nextOffset)}>
          Next
        </Button>
      </Group>
    </Group>
  );
}
