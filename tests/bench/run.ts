/**
 * `npm run bench <name> [args]` → tests/bench/<name>.ts, whose `run(args)` prints its figures, each
 * beside a baseline measured in the same run.
 */
async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
    console.error('usage: npm run bench <auth|catalog|checkout|export|load|money|orders> [args]');
    process.exit(2);
  }
  let mod: { run(args: string[]): Promise<void> };
  try {
    mod = (await import(`./${name}.js`)) as typeof mod;
  } catch (error) {
    console.error(`no benchmark named ${name}`, error instanceof Error ? error.message : error);
    process.exit(2);
  }
  await mod.run(args);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
