// What both bench runners of the edge (edge-miniflare.mjs, edge-workerd.mjs) read from the
// repository: the built Worker's folder, crates/edge/.dev.vars and crates/edge/wrangler.toml.
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';

/** The repository's root folder. */
export const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), '../..');
/** The Worker built by `sh crates/edge/build.sh`, or a copy of one named by `TIDINGS_EDGE_BUILD`
 *  (to compare two builds back to back). */
export const build = process.env.TIDINGS_EDGE_BUILD
  ? path.resolve(process.env.TIDINGS_EDGE_BUILD)
  : path.join(root, 'crates/edge/build');

/** Exits with what to run when the Worker has not been built. */
export function requireBuild() {
  if (!fs.existsSync(path.join(build, 'index.js'))) {
    console.error('crates/edge/build/index.js is missing: run `cd crates/edge && sh build.sh` (or `cargo xtask dev --edge-only` once)');
    process.exit(1);
  }
}

const toml = fs.readFileSync(path.join(root, 'crates/edge/wrangler.toml'), 'utf8');

/** The dev vars and secrets of crates/edge/.dev.vars plus wrangler.toml's allowed origins. */
export const vars = {
  ...Object.fromEntries(
    fs.readFileSync(path.join(root, 'crates/edge/.dev.vars'), 'utf8').split('\n')
      .map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])),
  TIDINGS_ALLOWED_ORIGINS: /TIDINGS_ALLOWED_ORIGINS\s*=\s*"([^"]*)"/.exec(toml)?.[1] ?? '',
};

/** wrangler.toml's compatibility date. */
export const compatibilityDate = /compatibility_date\s*=\s*"([^"]*)"/.exec(toml)?.[1] ?? '2026-04-01';

/** Every Durable Object binding of wrangler.toml: binding name, class, whether it has SQL storage. */
export const objects = [...toml.matchAll(/\[\[durable_objects\.bindings\]\]\s*name\s*=\s*"([^"]+)"\s*class_name\s*=\s*"([^"]+)"/g)]
  .map(([, binding, className]) => ({
    binding,
    className,
    sql: new RegExp(`new_sqlite_classes\\s*=\\s*\\[[^\\]]*"${className}"`).test(toml),
  }));
