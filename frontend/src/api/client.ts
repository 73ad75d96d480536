import createClient, { type Middleware } from "openapi-fetch";
import { getToken, requestToken } from "../lib/auth";
import type { paths } from "./schema";

/** An answer of the API that is not a success: its status and `{"error": {code, message, field?}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = getToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) requestToken();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

export function toApiError(error: unknown, response: Response): ApiError {
  const body = (error ?? {}) as { error?: { code?: string; message?: string; field?: string | null } };
  const detail = body.error;
  return new ApiError(
    response.status,
    detail?.code ?? "http_error",
    detail?.message ?? `${response.status} ${response.statusText || "request failed"}`,
    detail?.field ?? null,
  );
}

/** Unwrap an openapi-fetch result: the data, or throw an ApiError (TanStack Query shows it). */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch {
    throw new ApiError(0, "network", "the Harvest API cannot be reached (is `harvest up` running?)");
  }
  if (result.error !== undefined || !result.response.ok) throw toApiError(result.error, result.response);
  return result.data as T;
}

/** Unwrap a page of a collection (`{items, total, …}`) to its items, for lists read whole. */
export async function unwrapItems<T>(
  pending: Promise<{ data?: { items: T[] }; error?: unknown; response: Response }>,
): Promise<T[]> {
  return (await unwrap(pending)).items;
}
