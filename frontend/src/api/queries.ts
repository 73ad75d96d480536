// Server state: one hook per thing the pages read, one per write (TanStack Query caches and refreshes).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { api, unwrap, unwrapItems } from "./client";
import type { Pipeline } from "./types";

const LIVE = ["queued", "running"];

export function useHealth() {
  return useQuery({
    queryKey: ["health"],
    queryFn: () => unwrap(api.GET("/api/health")),
    refetchInterval: 15_000,
  });
}

export function useSources() {
  return useQuery({ queryKey: ["sources"], queryFn: () => unwrapItems(api.GET("/api/sources")) });
}

export function usePipelines(source: string | null, limit = 100) {
  return useQuery({
    queryKey: ["pipelines", source, limit],
    queryFn: () => unwrapItems(api.GET("/api/pipelines", { params: { query: { source: source || undefined, limit } } })),
    // while something runs, follow it
    refetchInterval: (query) => (query.state.data?.some((p) => LIVE.includes(p.status)) ? 2000 : 15_000),
  });
}

export function usePipeline(id: number) {
  return useQuery({
    queryKey: ["pipeline", id],
    queryFn: () => unwrap(api.GET("/api/pipelines/{run_id}", { params: { path: { run_id: id } } })),
    refetchInterval: (query) => (!query.state.data || LIVE.includes(query.state.data.status) ? 1000 : false),
  });
}

export function useCrawlRun(id: number | null) {
  return useQuery({
    queryKey: ["run", id],
    enabled: id !== null,
    queryFn: () => unwrap(api.GET("/api/runs/{run_id}", { params: { path: { run_id: id! } } })),
    refetchInterval: (query) => (query.state.data && !LIVE.includes(query.state.data.status) ? false : 2000),
  });
}

export function useCrawlRuns(limit = 50) {
  return useQuery({
    queryKey: ["runs", limit],
    queryFn: () => unwrapItems(api.GET("/api/runs", { params: { query: { limit } } })),
  });
}

export type DocumentQuery = {
  source: string;
  language: string[];
  date_from: string;
  date_to: string;
  label: string[];
  offset: number;
  limit: number;
};

export function useDocuments(q: DocumentQuery) {
  return useQuery({
    queryKey: ["documents", q],
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrap(
        api.GET("/api/documents", {
          params: {
            query: {
              source: q.source || undefined,
              language: q.language.length ? q.language : undefined,
              date_from: q.date_from || undefined,
              date_to: q.date_to || undefined,
              label: q.label.length ? q.label : undefined,
              offset: q.offset,
              limit: q.limit,
            },
          },
        }),
      ),
  });
}

export function useLanguages() {
  return useQuery({
    queryKey: ["languages"],
    queryFn: () => unwrapItems(api.GET("/api/documents/languages")),
    staleTime: 60_000,
  });
}

export function useDocument(id: number) {
  return useQuery({
    queryKey: ["document", id],
    queryFn: () => unwrap(api.GET("/api/documents/{document_id}", { params: { path: { document_id: id } } })),
  });
}

export function useChunks(id: number) {
  return useQuery({
    queryKey: ["chunks", id],
    queryFn: () =>
      unwrapItems(api.GET("/api/documents/{document_id}/chunks", { params: { path: { document_id: id } } })),
  });
}

export function useDocumentMentions(id: number) {
  return useQuery({
    queryKey: ["document-mentions", id],
    queryFn: () =>
      unwrapItems(api.GET("/api/documents/{document_id}/mentions", { params: { path: { document_id: id } } })),
  });
}

export function useVersionText(id: number, version: number | null) {
  return useQuery({
    queryKey: ["version", id, version],
    enabled: version !== null,
    staleTime: Infinity, // a processed version never changes
    queryFn: () =>
      unwrap(
        api.GET("/api/documents/{document_id}/versions/{page_version}", {
          params: { path: { document_id: id, page_version: version! } },
        }),
      ),
  });
}

export function useSimilar(id: number | null, offset = 0, limit = 10) {
  return useQuery({
    queryKey: ["similar", id, offset, limit],
    enabled: id !== null,
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrap(
        api.GET("/api/documents/{document_id}/similar", {
          params: { path: { document_id: id! }, query: { offset, limit } },
        }),
      ),
  });
}

export type SearchQuery = {
  q: string;
  mode: "vector" | "keyword" | "hybrid";
  source: string[];
  language: string[];
  date_from: string;
  date_to: string;
  label: string[];
  entity: number[];
  offset: number;
  limit: number;
};

export function useSearch(s: SearchQuery) {
  return useQuery({
    queryKey: ["search", s],
    enabled: s.q.trim() !== "",
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrap(
        api.GET("/api/search", {
          params: {
            query: {
              q: s.q,
              mode: s.mode,
              source: s.source.length ? s.source : undefined,
              language: s.language.length ? s.language : undefined,
              date_from: s.date_from || undefined,
              date_to: s.date_to || undefined,
              label: s.label.length ? s.label : undefined,
              entity: s.entity.length ? s.entity.map(String) : undefined,
              offset: s.offset,
              limit: s.limit,
            },
          },
        }),
      ),
  });
}

export function useEntityFacets(documents: number[]) {
  return useQuery({
    queryKey: ["facets", documents],
    enabled: documents.length > 0,
    queryFn: () => unwrapItems(api.GET("/api/entities/facets", { params: { query: { document: documents, limit: 15 } } })),
  });
}

export function useEntitySearch(q: string, type: string) {
  return useQuery({
    queryKey: ["entities", q, type],
    enabled: q.trim() !== "",
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrapItems(api.GET("/api/entities", { params: { query: { q, type: type || undefined, limit: 50 } } })),
  });
}

export function useEntity(id: number) {
  return useQuery({
    queryKey: ["entity", id],
    queryFn: () => unwrap(api.GET("/api/entities/{entity_id}", { params: { path: { entity_id: id } } })),
  });
}

export function useEntityMentions(id: number, offset: number, limit = 25) {
  return useQuery({
    queryKey: ["entity-mentions", id, offset, limit],
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrap(
        api.GET("/api/entities/{entity_id}/mentions", {
          params: { path: { entity_id: id }, query: { offset, limit } },
        }),
      ),
  });
}

// -- writes ------------------------------------------------------------------------------------------

function failed(title: string) {
  return (error: Error) => notifications.show({ color: "red", title, message: error.message });
}

export function useRunSource() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) =>
      unwrap(api.POST("/api/sources/{name}/run", { params: { path: { name } } })) as Promise<Pipeline>,
    onSuccess: () => client.invalidateQueries({ queryKey: ["pipelines"] }),
    onError: failed("Could not start the pipeline"),
  });
}

export function useCancelPipeline() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) =>
      unwrap(api.POST("/api/pipelines/{run_id}/cancel", { params: { path: { run_id: id } } })),
    onSuccess: (view) => {
      client.setQueryData(["pipeline", view.id], view);
      void client.invalidateQueries({ queryKey: ["pipelines"] });
      notifications.show({ color: "orange", message: `Pipeline run ${view.id} cancelled` });
    },
    onError: failed("Could not cancel"),
  });
}

export function useRemoveSource() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => unwrap(api.DELETE("/api/sources/{name}", { params: { path: { name } } })),
    onSuccess: (_, name) => {
      void client.invalidateQueries();
      notifications.show({ color: "teal", message: `Source ${name} removed` });
    },
    onError: failed("Could not remove the source"),
  });
}

function useEntityChange<T>(change: (pair: { first: number; second: number }) => Promise<T>, title: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: () => {
      for (const key of ["entity", "entities", "entity-mentions", "document-mentions", "facets"]) {
        void client.invalidateQueries({ queryKey: [key] });
      }
    },
    onError: failed(title),
  });
}

export function useMergeEntities() {
  return useEntityChange((pair) => unwrap(api.POST("/api/entities/merge", { body: pair })), "Could not merge");
}

export function useSplitEntities() {
  return useEntityChange((pair) => unwrap(api.POST("/api/entities/split", { body: pair })), "Could not split");
}
