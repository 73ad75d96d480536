// Names for the generated schema's types (nothing here is written by hand: all come from schema.d.ts).
import type { components } from "./schema";

type S = components["schemas"];
export type Health = S["Health"];
export type Source = S["SourceSpec"];
export type Pipeline = S["Pipeline"];
export type PipelineStage = S["PipelineStage"];
export type CrawlRun = S["Run"];
export type DocumentSummary = S["DocumentSummary"];
export type DocumentList = S["DocumentList"];
export type DocumentDetail = S["DocumentDetail"];
export type DocumentVersionText = S["DocumentVersionText"];
export type ChunkView = S["ChunkView"];
export type DocumentMention = S["DocumentMention"];
export type SearchResponse = S["SearchResponse"];
export type Hit = S["Hit"];
export type EntityView = S["EntityView"];
export type EntityMention = S["EntityMention"];
export type EntityFacet = S["EntityFacet"];
