// Queries and changes of the training, registry and lineage API (/api/datasets, /api/train, /api/models,
// /api/lineage); every type comes from the generated schema (see types.ts).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { api, unwrap } from "./client";

const LIVE = ["queued", "running"];

export function useModels() {
  return useQuery({
    queryKey: ["models"],
    queryFn: () => unwrap(api.GET("/api/models", { params: { query: { limit: 500 } } })),
  });
}

export function useDatasets() {
  return useQuery({
    queryKey: ["datasets"],
    queryFn: () => unwrap(api.GET("/api/datasets", { params: { query: { limit: 500 } } })),
  });
}

export function useTrainingRuns(model: string | null, limit = 20) {
  return useQuery({
    queryKey: ["training-runs", model, limit],
    queryFn: () => unwrap(api.GET("/api/train", { params: { query: { model: model ?? undefined, limit } } })),
    // while a run is queued or training, follow it
    refetchInterval: (query) => (query.state.data?.items.some((r) => LIVE.includes(r.status)) ? 2000 : 30_000),
  });
}

export function useModel(name: string) {
  return useQuery({
    queryKey: ["model", name],
    queryFn: () => unwrap(api.GET("/api/models/{name}", { params: { path: { name } } })),
  });
}

export function useModelVersion(name: string, version: number | null) {
  return useQuery({
    queryKey: ["model-version", name, version],
    enabled: version !== null,
    queryFn: () =>
      unwrap(api.GET("/api/models/{name}/versions/{version}", { params: { path: { name, version: version! } } })),
  });
}

export function useLineage(name: string, version: number | null, offset: number, limit = 20) {
  return useQuery({
    queryKey: ["lineage", name, version, offset, limit],
    enabled: version !== null,
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrap(
        api.GET("/api/lineage/models/{name}/{version}", {
          params: { path: { name, version: version! }, query: { offset, limit } },
        }),
      ),
  });
}

function failed(title: string) {
  return (error: Error) => notifications.show({ color: "red", title, message: error.message });
}

function useRegistryChange<A>(change: (arg: A) => Promise<unknown>, title: string, done: (arg: A) => string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: change,
    onSuccess: (_, arg) => {
      for (const key of ["models", "model", "model-version", "lineage"]) void client.invalidateQueries({ queryKey: [key] });
      notifications.show({ color: "teal", message: done(arg) });
    },
    onError: failed(title),
  });
}

export function usePromote(name: string) {
  return useRegistryChange(
    (version: number) => unwrap(api.POST("/api/models/{name}/promote", { params: { path: { name } }, body: { version } })),
    "Could not promote",
    (version) => `Version ${version} of ${name} is in production`,
  );
}

export function useRollback(name: string) {
  return useRegistryChange(
    () => unwrap(api.POST("/api/models/{name}/rollback", { params: { path: { name } } })),
    "Could not roll back",
    () => `${name} rolled back to the version that served before`,
  );
}

export function usePredict(name: string) {
  return useMutation({
    mutationFn: (texts: string[]) =>
      unwrap(api.POST("/api/models/{name}/predict", { params: { path: { name } }, body: { texts } })),
  });
}

export function useTrain() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (dataset: string) => unwrap(api.POST("/api/train", { body: { dataset, finetune: false } })),
    onSuccess: (run) => {
      void client.invalidateQueries({ queryKey: ["training-runs"] });
      notifications.show({ color: "teal", message: `Training run ${run.id} queued for ${run.dataset}` });
    },
    onError: failed("Could not start training"),
  });
}

export function useDocumentLineage(id: number) {
  return useQuery({
    queryKey: ["document-lineage", id],
    queryFn: () =>
      unwrap(api.GET("/api/lineage/documents/{document_id}", { params: { path: { document_id: id } } })),
  });
}
