import { lazy, Suspense, type ComponentProps } from "react";
import { Loading } from "./States";

// recharts is the largest dependency: loaded only when a chart is on screen, after the page's data.
const MantineBarChart = lazy(() => import("@mantine/charts").then((m) => ({ default: m.BarChart })));
const MantineLineChart = lazy(() => import("@mantine/charts").then((m) => ({ default: m.LineChart })));

export function BarChart(props: ComponentProps<typeof MantineBarChart>) {
  return (
    <Suspense fallback={<Loading label="Drawing the chart…" />}>
      <MantineBarChart {...props} />
    </Suspense>
  );
}

export function LineChart(props: ComponentProps<typeof MantineLineChart>) {
  return (
    <Suspense fallback={<Loading label="Drawing the chart…" />}>
      <MantineLineChart {...props} />
    </Suspense>
  );
}
