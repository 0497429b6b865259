export default { build: { outDir: "dist", emptyOutDir: true }, base: "/vite/" };
