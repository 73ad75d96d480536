// The training and registry API (/api/datasets, /api/train, /api/models, /api/lineage) answers with
// untyped JSON objects in the OpenAPI schema: these are their shapes, as harvest.train's `to_json` writes them.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { api, unwrap } from "./client";

export type Dataset = {
  id: number;
  name: string;
  task: string;
  sources: string[];
  label_rule_text: string;
  splits: Record<string, number>;
  language: string | null;
  description: string | null;
  created_at: string;
  snapshots: number;
};

export type TrainingRun = {
  id: number;
  dataset: string;
  model: string;
  status: string;
  trigger: string;
  params: Record<string, unknown>;
  attempts: number;
  snapshot_id: string | null;
  mlflow_run_id: string | null;
  model_version: number | null;
  metrics: Record<string, number> | null;
  message: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};

export type ModelSummary = {
  name: string;
  production: number | null;
  latest: number | null;
  versions: number;
  updated_at: string | null;
  production_history: number[];
};

export type ModelVersion = {
  name: string;
  version: number;
  run_id: string | null;
  status: string;
  created_at: string;
  aliases: string[];
  dataset: string | null;
  snapshot_id: string | null;
  embedding_model: string | null;
  kind: string;
  task: string;
  labels: string[];
  metrics: Record<string, number>;
  training_run: number | null;
};

export type EpochPoint = {
  epoch: number;
  train_loss?: number;
  val_loss?: number;
  val_macro_f1?: number;
  val_accuracy?: number;
};

export type ModelDetail = ModelSummary & { version_list: ModelVersion[] };
export type VersionDetail = ModelVersion & { history: EpochPoint[] };

export type Prediction = {
  label: string | null;
  labels: string[];
  score: number;
  probabilities: Record<string, number>;
  model_version: number;
};

export type Predictions = { model: string; model_version: number; predictions: Prediction[] };

export type LineageDocument = {
  document_id: number;
  url: string;
  page_version: number;
  content_hash: string;
  fetched_at: string | null;
  split: string;
  labels: string[];
};

export type ModelLineage = {
  model: ModelVersion;
  run: { run_id: string; status: string; params?: Record<string, string>; metrics?: Record<string, number> } | null;
  snapshot: {
    id: string;
    dataset: string;
    embedding_model: string;
    rows: number;
    created_at: string;
    label_distribution: Record<string, Record<string, number>> | null;
    splits: Record<string, number> | null;
  } | null;
  documents: LineageDocument[];
  documents_total: number;
  limit: number;
  offset: number;
};

type Page<T> = { items: T[]; total: number | null; limit: number; offset: number; next_offset: number | null };

const LIVE = ["queued", "running"];

export function useModels() {
  return useQuery({
    queryKey: ["models"],
    queryFn: () => unwrap(api.GET("/api/models", { params: { query: { limit: 500 } } })) as Promise<Page<ModelSummary>>,
  });
}

export function useDatasets() {
  return useQuery({
    queryKey: ["datasets"],
    queryFn: () => unwrap(api.GET("/api/datasets", { params: { query: { limit: 500 } } })) as Promise<Page<Dataset>>,
  });
}

export function useTrainingRuns(model: string | null, limit = 20) {
  return useQuery({
    queryKey: ["training-runs", model, limit],
    queryFn: () =>
      unwrap(api.GET("/api/train", { params: { query: { model: model ?? undefined, limit } } })) as Promise<
        Page<TrainingRun>
      >,
    // while a run is queued or training, follow it
    refetchInterval: (query) => (query.state.data?.items.some((r) => LIVE.includes(r.status)) ? 2000 : 30_000),
  });
}

export function useModel(name: string) {
  return useQuery({
    queryKey: ["model", name],
    queryFn: () => unwrap(api.GET("/api/models/{name}", { params: { path: { name } } })) as Promise<ModelDetail>,
  });
}

export function useModelVersion(name: string, version: number | null) {
  return useQuery({
    queryKey: ["model-version", name, version],
    enabled: version !== null,
    queryFn: () =>
      unwrap(
        api.GET("/api/models/{name}/versions/{version}", { params: { path: { name, version: version! } } }),
      ) as Promise<VersionDetail>,
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
      ) as Promise<ModelLineage>,
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
      unwrap(api.POST("/api/models/{name}/predict", { params: { path: { name } }, body: { texts } })) as Promise<Predictions>,
  });
}

export function useTrain() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (dataset: string) => unwrap(api.POST("/api/train", { body: { dataset, finetune: false } })) as Promise<TrainingRun>,
    onSuccess: (run) => {
      void client.invalidateQueries({ queryKey: ["training-runs"] });
      notifications.show({ color: "teal", message: `Training run ${run.id} queued for ${run.dataset}` });
    },
    onError: failed("Could not start training"),
  });
}

export type DocumentLineage = {
  document: { id: number; url: string; source: string; page_version: number; latest_page_version: number } | null;
  snapshots: {
    snapshot_id: string;
    dataset: string;
    created_at: string;
    page_version: number;
    split: string;
    labels: string[];
    model_versions: { name: string; version: number; aliases: string[] }[];
  }[];
  predictions: {
    id: number;
    page_version: number;
    model: string;
    model_version: number;
    label: string | null;
    labels: string[];
    score: number;
    created_at: string;
  }[];
};

export function useDocumentLineage(id: number) {
  return useQuery({
    queryKey: ["document-lineage", id],
    queryFn: () =>
      unwrap(
        api.GET("/api/lineage/documents/{document_id}", { params: { path: { document_id: id } } }),
      ) as Promise<DocumentLineage>,
  });
}
