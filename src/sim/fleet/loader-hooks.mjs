// Module hooks that run the TypeScript sources of a fleet process or worker thread, like tsx
// but without esbuild's keepNames: tsx names every arrow function it transforms with
// Object.defineProperty(fn, 'name'), which turns each such closure into a dictionary-mode
// object of about 250 bytes; a fleet holds some twenty of them per charger (5.5 KB), and more
// heap means longer GC pauses. Only TypeScript files of this package are transformed.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const root = new URL('../../../', import.meta.url).href;
const own = (url) => url.startsWith(root) && !url.includes('/node_modules/');

export async function resolve(specifier, context, next) {
  // Our sources import each other as './x.js' (NodeNext): the file is x.ts.
  if (context.parentURL && own(context.parentURL) && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const ts = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (existsSync(ts)) return { url: ts.href, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts') || !own(url)) return next(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts', format: 'esm', target: `node${process.versions.node}`, sourcemap: 'inline', sourcefile: path,
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: false, useDefineForClassFields: true } },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
