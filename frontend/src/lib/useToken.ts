import { useSyncExternalStore } from "react";
import { getToken, subscribe, tokenPromptWanted } from "./auth";

export function useToken(): string | null {
  return useSyncExternalStore(subscribe, getToken, () => null);
}

export function useTokenPrompt(): boolean {
  return useSyncExternalStore(subscribe, tokenPromptWanted, () => false);
}
