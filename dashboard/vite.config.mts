import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Static files for the API to serve at `/` (api/http/dashboard.ts). Settings come from
// /dashboard-config.json at run time, so one build serves every deployment.
export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The CSP forbids inline script: no inlined module-preload polyfill, no data: scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: { fs: { allow: [".."] } },
});
