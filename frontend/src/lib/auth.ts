// The API token, entered once per browser tab session (sessionStorage: gone when the tab closes).
const KEY = "harvest.token";
type Listener = () => void;
const listeners = new Set<Listener>();
let promptWanted = false;

function storage(): Storage | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

export function getToken(): string | null {
  return storage()?.getItem(KEY) || null;
}

export function setToken(token: string | null): void {
  const s = storage();
  if (token && token.trim()) s?.setItem(KEY, token.trim());
  else s?.removeItem(KEY);
  promptWanted = false;
  listeners.forEach((l) => l());
}

/** A 401 from the API: forget the token and ask for one. */
export function requestToken(): void {
  storage()?.removeItem(KEY);
  promptWanted = true;
  listeners.forEach((l) => l());
}

export function openTokenPrompt(): void {
  promptWanted = true;
  listeners.forEach((l) => l());
}

export function closeTokenPrompt(): void {
  promptWanted = false;
  listeners.forEach((l) => l());
}

export function tokenPromptWanted(): boolean {
  return promptWanted;
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
