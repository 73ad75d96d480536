import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router";
import { readParams, writeParams, type ParamSpec, type Values } from "./urlState";

/** The page's state from the URL, and a setter that writes it back (a history entry per change). */
export function useUrlState<S extends Record<string, ParamSpec>>(spec: S, pageKey: keyof S | null = "offset") {
  const [search, setSearch] = useSearchParams();
  const values = useMemo(() => readParams(search, spec), [search, spec]);
  const update = useCallback(
    (changes: Partial<Values<S>>, options?: { replace?: boolean }) =>
      setSearch((current) => writeParams(current, spec, changes, pageKey), { replace: options?.replace }),
    [setSearch, spec, pageKey],
  );
  return [values, update] as const;
}
