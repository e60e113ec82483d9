import { defineConfig } from "drizzle-kit";

// The library's own tables only; the demo keeps its schema and migrations in demo/.
export default defineConfig({
  dialect: "postgresql",
  schema: "./server/db/schema.ts",
  out: "./drizzle",
});
