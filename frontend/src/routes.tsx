import { createBrowserRouter } from "react-router";
import { Layout } from "./components/Layout";
import { RouteError } from "./components/States";

// Every page is its own chunk, loaded when first visited: the first load carries only the shell.
export const router = createBrowserRouter([
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    children: [
      { index: true, lazy: () => import("./pages/Overview").then((m) => ({ Component: m.default })) },
      { path: "sources", lazy: () => import("./pages/Sources").then((m) => ({ Component: m.default })) },
      { path: "pipelines", lazy: () => import("./pages/Pipelines").then((m) => ({ Component: m.default })) },
      {
        path: "pipelines/:id",
        lazy: () => import("./pages/PipelineDetail").then((m) => ({ Component: m.default })),
      },
      { path: "documents", lazy: () => import("./pages/Documents").then((m) => ({ Component: m.default })) },
      {
        path: "documents/:id",
        lazy: () => import("./pages/DocumentDetail").then((m) => ({ Component: m.default })),
      },
      { path: "search", lazy: () => import("./pages/Search").then((m) => ({ Component: m.default })) },
      { path: "entities", lazy: () => import("./pages/Entities").then((m) => ({ Component: m.default })) },
      {
        path: "entities/:id",
        lazy: () => import("./pages/EntityDetail").then((m) => ({ Component: m.default })),
      },
      { path: "models", lazy: () => import("./pages/Models").then((m) => ({ Component: m.default })) },
      {
        path: "models/:name",
        lazy: () => import("./pages/ModelDetail").then((m) => ({ Component: m.default })),
      },
      { path: "*", lazy: () => import("./pages/NotFound").then((m) => ({ Component: m.default })) },
    ],
  },
]);
