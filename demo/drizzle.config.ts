import { defineConfig } from "drizzle-kit";

// The demo's own tables, as an app adopting async-uploads keeps them: its schema, its folder, its journal.
export default defineConfig({
  dialect: "postgresql",
  schema: "./demo/schema.ts",
  out: "./demo/drizzle",
});
