/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API the dev server forwards /api to (`harvest up` on its default port unless told otherwise).
const api = process.env.HARVEST_UI_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: {
    // the FastAPI app serves this directory at / (src/harvest/api/ui.py)
    outDir: "../src/harvest/api/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
  },
  server: {
    port: Number(process.env.HARVEST_UI_PORT ?? 5173),
    strictPort: true,
    proxy: { "/api": { target: api, changeOrigin: true } },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
