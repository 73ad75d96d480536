import { Button, Stack, Text, Title } from "@mantine/core";
import { Link, useLocation } from "react-router";
import { usePageTitle } from "../lib/usePageTitle";

export default function NotFound() {
  usePageTitle("Not found");
  const { pathname } = useLocation();
  return (
    <Stack align="flex-start">
      <Title order={2}>No such page</Title>
      <Text>Nothing lives at {pathname}.</Text>
      <Button component={Link} to="/">
        Overview
      </Button>
    </Stack>
  );
}
