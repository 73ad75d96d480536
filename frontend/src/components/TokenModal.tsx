import { Alert, Button, Group, Modal, PasswordInput, Stack, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { closeTokenPrompt, getToken, setToken } from "../lib/auth";
import { useTokenPrompt } from "../lib/useToken";

export function TokenModal() {
  const opened = useTokenPrompt();
  const queryClient = useQueryClient();
  const [value, setValue] = useState("");
  const [checking, setChecking] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (opened) {
      setValue(getToken() ?? "");
      setProblem(null);
    }
  }, [opened]);

  async function save(event: React.FormEvent) {
    event.preventDefault();
    const token = value.trim();
    if (!token) {
      setProblem("enter the token (HARVEST_API_TOKEN of the server)");
      return;
    }
    setChecking(true);
    try {
      // any read that needs the token tells us whether it is right
      const answer = await fetch("/api/pipelines?limit=1", { headers: { Authorization: `Bearer ${token}` } });
      if (answer.status === 401) {
        setProblem("the server refused this token");
        return;
      }
      setToken(token);
      await queryClient.invalidateQueries();
    } catch {
      setProblem("the API cannot be reached");
    } finally {
      setChecking(false);
    }
  }

  return (
    <Modal opened={opened} onClose={closeTokenPrompt} title="API token" centered>
      <form onSubmit={save}>
        <Stack>
          <Text size="sm">
            Reading and changing data needs the server&apos;s <code>HARVEST_API_TOKEN</code>. It is kept in this
            tab only (session storage) and sent with every request.
          </Text>
          <PasswordInput
            label="Token"
            value={value}
            onChange={(e) => setValue(e.currentTarget.value)}
            error={problem}
            data-autofocus
            autoComplete="off"
          />
          {getToken() && (
            <Alert color="gray" variant="light">
              A token is set.{" "}
              <Button
                variant="subtle"
                size="compact-sm"
                onClick={() => {
                  setToken(null);
                  void queryClient.invalidateQueries();
                }}
              >
                Forget it
              </Button>
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={closeTokenPrompt}>
              Cancel
            </Button>
            <Button type="submit" loading={checking}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
