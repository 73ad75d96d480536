import { Alert, Button, Group, NumberInput, SegmentedControl, SimpleGrid, Stack, Text, TextInput, Textarea } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { notifications } from "@mantine/notifications";
import { useState } from "react";
import { ApiError, api, unwrap } from "../api/client";
import type { Source } from "../api/types";
import {
  EMPTY_SOURCE,
  changedFields,
  formFieldOf,
  toForm,
  toSpec,
  type SourceFormValues,
} from "../lib/sourceForm";
import { useToken } from "../lib/useToken";

type Errors = Partial<Record<keyof SourceFormValues, string>>;

/** Create a source, or edit one (`existing`); the API validates and its message lands at the field. */
export function SourceForm({ existing, onDone }: { existing?: Source; onDone: (source: Source) => void }) {
  const token = useToken();
  const client = useQueryClient();
  const [values, setValues] = useState<SourceFormValues>(existing ? toForm(existing) : EMPTY_SOURCE);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string | null>(null);

  const save = useMutation({
    mutationFn: async (): Promise<Source> => {
      const { spec, problems } = toSpec(values);
      if (problems.length) {
        throw new ApiError(422, "invalid_input", problems[0]!.message, problems[0]!.field);
      }
      if (existing) {
        const changes = changedFields(existing, spec);
        return unwrap(api.PATCH("/api/sources/{name}", { params: { path: { name: existing.name } }, body: changes }));
      }
      return unwrap(api.POST("/api/sources", { body: spec as unknown as Source }));
    },
    onMutate: () => {
      setErrors({});
      setFormError(null);
    },
    onSuccess: (source) => {
      void client.invalidateQueries({ queryKey: ["sources"] });
      notifications.show({ color: "teal", message: `Source ${source.name} ${existing ? "saved" : "added"}` });
      onDone(source);
    },
    onError: (error) => {
      const field = error instanceof ApiError ? formFieldOf(error.field) : null;
      if (field) setErrors({ [field]: error.message });
      else setFormError(error.message);
    },
  });

  const bind = (key: keyof SourceFormValues) => ({
    value: values[key],
    error: errors[key],
    onChange: (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => {
      const value = event.currentTarget.value; // read now: React clears currentTarget after the handler
      setValues((v) => ({ ...v, [key]: value }));
    },
  });
  const number = (key: keyof SourceFormValues) => ({
    value: values[key],
    error: errors[key],
    onChange: (value: string | number) => setValues((v) => ({ ...v, [key]: String(value) })),
  });

  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
      noValidate
    >
      <Stack gap="sm">
        <TextInput
          label="Name"
          description="letters, digits, . _ -"
          required
          disabled={!!existing}
          data-autofocus
          {...bind("name")}
        />
        <Textarea label="Start URLs" description="one per line" autosize minRows={2} {...bind("start_urls")} />
        <Textarea label="Sitemap URLs" description="one per line (optional)" autosize minRows={1} {...bind("sitemap_urls")} />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Textarea label="Include (regex)" description="only URLs matching one" autosize minRows={1} {...bind("include")} />
          <Textarea label="Exclude (regex)" description="skip URLs matching one" autosize minRows={1} {...bind("exclude")} />
          <Textarea
            label="Allowed domains"
            description="default: the start URLs' hosts"
            autosize
            minRows={1}
            {...bind("allowed_domains")}
          />
          <Textarea label="Labels" description="KEY=VALUE, one per line" autosize minRows={1} {...bind("labels")} />
          <NumberInput label="Max depth" min={0} allowDecimal={false} {...number("max_depth")} />
          <NumberInput label="Max pages" min={1} allowDecimal={false} {...number("max_pages")} />
          <NumberInput label="Concurrency per domain" min={1} max={64} allowDecimal={false} {...number("concurrency")} />
          <NumberInput label="Delay between requests (s)" min={0} decimalScale={2} {...number("delay")} />
        </SimpleGrid>
        <Stack gap={4}>
          <Text size="sm" fw={500}>
            Rendering
          </Text>
          <SegmentedControl
            value={values.render}
            onChange={(render) => setValues((v) => ({ ...v, render: render as "static" | "browser" }))}
            data={[
              { value: "static", label: "Static HTML" },
              { value: "browser", label: "Browser (JavaScript)" },
            ]}
          />
        </Stack>
        {values.render === "browser" && (
          <TextInput label="Wait for (CSS selector)" description="before the page is stored" {...bind("wait_for")} />
        )}
        <TextInput
          label="Schedule"
          description="cron, e.g. 0 3 * * * or @daily; empty: run by hand"
          {...bind("schedule")}
        />
        <TextInput label="User agent" description="default: Harvest's" {...bind("user_agent")} />
        {formError && (
          <Alert color="red" role="alert">
            {formError}
          </Alert>
        )}
        <Group justify="flex-end">
          {!token && (
            <Text size="sm" c="dimmed">
              Saving needs the API token
            </Text>
          )}
          <Button type="submit" loading={save.isPending} disabled={!token}>
            {existing ? "Save" : "Add source"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
