import { Alert, Button, Center, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { IconAlertTriangle, IconInbox } from "@tabler/icons-react";
import type { ReactNode } from "react";
import { Link, isRouteErrorResponse, useRouteError } from "react-router";
import { ApiError } from "../api/client";
import { openTokenPrompt } from "../lib/auth";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Group gap="sm">
        <Loader size="sm" />
        <Text c="dimmed" size="sm">
          {label}
        </Text>
      </Group>
    </Center>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const apiError = error instanceof ApiError ? error : null;
  const title =
    apiError?.status === 401
      ? "This needs the API token"
      : apiError?.status === 404
        ? "Not found"
        : apiError?.status === 0
          ? "The API cannot be reached"
          : "Something went wrong";
  return (
    <Alert color={apiError?.status === 404 ? "gray" : "red"} icon={<IconAlertTriangle />} title={title} role="alert">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{error instanceof Error ? error.message : String(error)}</Text>
        <Group gap="xs">
          {apiError?.status === 401 && (
            <Button size="xs" onClick={openTokenPrompt}>
              Enter token
            </Button>
          )}
          {retry && apiError?.status !== 404 && (
            <Button size="xs" variant="light" onClick={retry}>
              Try again
            </Button>
          )}
        </Group>
      </Stack>
    </Alert>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Center py="xl">
      <Stack align="center" gap={4} maw={480} ta="center">
        <IconInbox size={32} stroke={1.5} color="var(--mantine-color-dimmed)" />
        <Text fw={600}>{title}</Text>
        {children && (
          <Text size="sm" c="dimmed" component="div">
            {children}
          </Text>
        )}
      </Stack>
    </Center>
  );
}

/** A query's three states in one place: loading, error (with retry), then the content. */
export function QueryState<T>({
  query,
  children,
  loading,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  children: (data: T) => ReactNode;
  loading?: string;
}) {
  if (query.isPending) return <Loading label={loading} />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  return <>{children(query.data as T)}</>;
}

export function RouteError() {
  const error = useRouteError();
  const message = isRouteErrorResponse(error)
    ? `${error.status} ${error.statusText}`
    : error instanceof Error
      ? error.message
      : String(error);
  return (
    <Center p="xl">
      <Stack maw={560}>
        <Title order={2}>This page failed to load</Title>
        <Text>{message}</Text>
        <Text size="sm" c="dimmed">
          If Harvest was just upgraded, reloading fetches the new version of the UI.
        </Text>
        <Group>
          <Button onClick={() => window.location.reload()}>Reload</Button>
          <Button variant="default" component={Link} to="/">
            Overview
          </Button>
        </Group>
      </Stack>
    </Center>
  );
}
