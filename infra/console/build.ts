import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(__dirname, '..', '..', '..');
const entry = path.join(root, 'console', 'src', 'main.tsx');
export const CONSOLE_OUT_DIR = path.join(root, 'dist', 'console');

/**
 * The page itself: no inline script or style (the CSP forbids both), assets by relative URL so the
 * console works under any route prefix or proxy path, and names that change with their content so the
 * assets can be cached for a year while the page is revalidated every time.
 */
function page(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>ecommerce-api — admin console</title>
  <link rel="stylesheet" href="console/${style}">
  <script type="module" src="console/${script}"></script>
</head>
<body>
  <div id="app"><noscript>The admin console needs JavaScript.</noscript></div>
</body>
</html>
`;
}

/** `npm run build` bundles the console (console/src) into dist/console: index.html, app-<hash>.js/.css. */
export async function buildConsole(outDir = CONSOLE_OUT_DIR): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    write: false,
    outdir: outDir,
    entryNames: 'app',
    logLevel: 'warning',
  });
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const names: Record<string, string> = {};
  for (const file of result.outputFiles) {
    const ext = path.extname(file.path);
    const hash = createHash('sha256').update(file.contents).digest('base64url').slice(0, 10);
    const name = `app-${hash}${ext}`;
    names[ext] = name;
    writeFileSync(path.join(outDir, name), file.contents);
  }
  if (!names['.js'] || !names['.css']) throw new Error('the console bundle lacks its script or style');
  writeFileSync(path.join(outDir, 'index.html'), page(names['.js'], names['.css']));
  return ['index.html', names['.js'], names['.css']];
}

if (require.main === module) {
  buildConsole().then(
    (files) => console.log(`console: ${files.join(', ')} in dist/console`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
