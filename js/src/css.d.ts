// CSS imports are bundled by esbuild into a sibling .css file per entry.
declare module "*.css";
