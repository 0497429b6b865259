// JSX through Vite's esbuild with React's automatic runtime (no plugin).
export default { build: { outDir: "dist", emptyOutDir: true }, base: "/react/", esbuild: { jsx: "automatic" } };
