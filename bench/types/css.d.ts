// CSS imported by the browser bench's pages is bundled by esbuild, not read by TypeScript.
declare module "*.css";
