// Names for the generated schema's types (nothing here is written by hand: all come from schema.d.ts).
import type { components } from "./schema";

type S = components["schemas"];
export type Health = S["Health"];
export type Source = S["SourceSpec"];
export type Pipeline = S["Pipeline"];
export type PipelineStage = S["PipelineStage"];
export type CrawlRun = S["Run"];
export type DocumentSummary = S["DocumentSummary"];
export type DocumentList = S["Page_DocumentSummary_"];
export type DocumentDetail = S["DocumentOut"];
export type DocumentVersionText = S["DocumentVersionText"];
export type ChunkView = S["ChunkOut"];
export type DocumentMention = S["DocumentMention"];
export type SearchResponse = S["SearchResponse"];
export type Hit = S["Hit"];
export type EntityView = S["EntityOut"];
export type EntitySummary = S["EntitySummary"];
export type EntityMention = S["Mention"];
export type EntityFacet = S["EntityFacet"];
