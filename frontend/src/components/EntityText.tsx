import { Tooltip } from "@mantine/core";
import { useMemo } from "react";
import { useNavigate } from "react-router";
import type { ChunkView, DocumentMention } from "../api/types";
import { placeMentions, spanParts } from "../lib/highlight";

const TYPE_COLORS: Record<string, string> = {
  organization: "var(--mantine-color-blue-light)",
  person: "var(--mantine-color-grape-light)",
  place: "var(--mantine-color-green-light)",
  location: "var(--mantine-color-green-light)",
};

/** The document's text with each entity mention marked; a mark opens its entity. */
export function EntityText({ text, chunks, mentions }: { text: string; chunks: ChunkView[]; mentions: DocumentMention[] }) {
  const navigate = useNavigate();
  const parts = useMemo(
    () =>
      spanParts(
        text,
        placeMentions(
          text,
          chunks,
          mentions.map((m) => ({ chunk_id: m.chunk_id, start: m.start, end: m.end, data: m })),
        ),
      ),
    [text, chunks, mentions],
  );
  return (
    <div className="doc-text" data-testid="document-text">
      {parts.map((part, i) =>
        part.mark ? (
          <Tooltip key={i} label={`${part.mark.name} · ${part.mark.type} · score ${part.mark.score.toFixed(0)}`}>
            <mark
              className="mention"
              style={{ background: TYPE_COLORS[part.mark.type] ?? "var(--mantine-color-yellow-light)", color: "inherit" }}
              tabIndex={0}
              role="link"
              data-entity={part.mark.entity_id}
              onClick={() => navigate(`/entities/${part.mark!.entity_id}`)}
              onKeyDown={(e) => e.key === "Enter" && navigate(`/entities/${part.mark!.entity_id}`)}
            >
              {part.text}
            </mark>
          </Tooltip>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </div>
  );
}
