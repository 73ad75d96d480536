import {
  ActionIcon,
  AppShell,
  Badge,
  Burger,
  Button,
  Group,
  NavLink,
  Text,
  Tooltip,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { useDisclosure, useHotkeys } from "@mantine/hooks";
import {
  IconBinaryTree2,
  IconFileText,
  IconHome,
  IconKey,
  IconMoon,
  IconSearch,
  IconSun,
  IconTopologyStar3,
  IconBrain,
  IconWorldWww,
} from "@tabler/icons-react";
import { Suspense, type ComponentType } from "react";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { openTokenPrompt } from "../lib/auth";
import { useToken } from "../lib/useToken";
import { useHealth } from "../api/queries";
import { Loading } from "./States";
import { TokenModal } from "./TokenModal";

type NavItem = { to: string; label: string; icon: ComponentType<{ size?: number }>; hint: string };

// The navigation: one entry per area. The Models area (training, registry) slots in here when it exists.
export const NAV: NavItem[] = [
  { to: "/", label: "Overview", icon: IconHome, hint: "counts, recent runs, failures" },
  { to: "/sources", label: "Sources", icon: IconWorldWww, hint: "what is crawled" },
  { to: "/pipelines", label: "Pipelines & runs", icon: IconBinaryTree2, hint: "crawl → process → entities → embed" },
  { to: "/documents", label: "Documents", icon: IconFileText, hint: "extracted texts" },
  { to: "/search", label: "Search", icon: IconSearch, hint: "vector, keyword, hybrid" },
  { to: "/entities", label: "Entities", icon: IconTopologyStar3, hint: "organisations, people, places" },
  { to: "/models", label: "Models", icon: IconBrain, hint: "training runs, versions, predict" },
];

function isActive(pathname: string, to: string): boolean {
  return to === "/" ? pathname === "/" : pathname === to || pathname.startsWith(`${to}/`);
}

function HealthBadge() {
  const health = useHealth();
  if (health.isError) return <Badge color="red" variant="light">API unreachable</Badge>;
  if (!health.data) return null;
  return (
    <Tooltip label={`database ${health.data.database} · model ${health.data.active_model ?? "none"}`}>
      <Badge color="teal" variant="light" visibleFrom="sm">
        v{health.data.version}
      </Badge>
    </Tooltip>
  );
}

export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const token = useToken();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  useHotkeys([["/", () => navigate("/search?focus=1")]]);

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 230, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Text component={Link} to="/" fw={700} size="lg" c="teal.7">
              Harvest
            </Text>
            <HealthBadge />
          </Group>
          <Group gap="xs" wrap="nowrap">
            <Button
              variant={token ? "light" : "filled"}
              color={token ? "teal" : "orange"}
              size="xs"
              leftSection={<IconKey size={14} />}
              onClick={openTokenPrompt}
            >
              {token ? "Token set" : "Enter token"}
            </Button>
            <ActionIcon
              variant="default"
              size="lg"
              aria-label="Toggle color scheme"
              onClick={() => setColorScheme(scheme === "light" ? "dark" : "light")}
            >
              {scheme === "light" ? <IconMoon size={18} /> : <IconSun size={18} />}
            </ActionIcon>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {NAV.map((item) => (
          <NavLink
            key={item.to}
            component={Link}
            to={item.to}
            label={item.label}
            description={item.hint}
            leftSection={<item.icon size={18} />}
            active={isActive(pathname, item.to)}
            onClick={close}
          />
        ))}
        <Text size="xs" c="dimmed" mt="auto" p="xs">
          Press <kbd>/</kbd> to search · API docs at <a href="/docs">/docs</a>
        </Text>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </AppShell.Main>
      <TokenModal />
    </AppShell>
  );
}
