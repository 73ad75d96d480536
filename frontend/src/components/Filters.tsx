import { Group, MultiSelect, Select, TagsInput, TextInput } from "@mantine/core";
import { useLanguages, useSources } from "../api/queries";

/** The filters documents and search share: source, language, date range, source labels. */
export function DocumentFilters({
  source,
  multiSource,
  language,
  dateFrom,
  dateTo,
  label,
  onChange,
}: {
  source: string[];
  multiSource?: boolean;
  language: string[];
  dateFrom: string;
  dateTo: string;
  label: string[];
  onChange: (changes: {
    source?: string[];
    language?: string[];
    date_from?: string;
    date_to?: string;
    label?: string[];
  }) => void;
}) {
  const sources = useSources();
  const languages = useLanguages();
  const sourceNames = (sources.data ?? []).map((s) => s.name);
  return (
    <Group align="flex-end" gap="sm" wrap="wrap">
      {multiSource ? (
        <MultiSelect
          label="Source"
          placeholder={source.length ? undefined : "all"}
          data={sourceNames}
          value={source}
          onChange={(v) => onChange({ source: v })}
          clearable
          searchable
          w={200}
        />
      ) : (
        <Select
          label="Source"
          placeholder="all"
          data={sourceNames}
          value={source[0] ?? null}
          onChange={(v) => onChange({ source: v ? [v] : [] })}
          clearable
          searchable
          w={180}
        />
      )}
      <MultiSelect
        label="Language"
        placeholder={language.length ? undefined : "any"}
        data={(languages.data ?? []).map((l) => ({ value: l.language, label: `${l.language} (${l.documents})` }))}
        value={language}
        onChange={(v) => onChange({ language: v })}
        clearable
        w={170}
      />
      <TextInput
        label="From"
        type="date"
        value={dateFrom}
        onChange={(e) => onChange({ date_from: e.currentTarget.value })}
        w={160}
      />
      <TextInput
        label="To"
        type="date"
        value={dateTo}
        onChange={(e) => onChange({ date_to: e.currentTarget.value })}
        w={160}
      />
      <TagsInput
        label="Source label"
        placeholder={label.length ? undefined : "key or key=value"}
        value={label}
        onChange={(v) => onChange({ label: v })}
        clearable
        w={200}
      />
    </Group>
  );
}
