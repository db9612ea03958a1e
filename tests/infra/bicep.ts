/**
 * Reading the Bicep templates without a Bicep compiler (none can be installed here, GUIDE §4):
 * tree-sitter-bicep (wasm) parses them, and these helpers pull out the few facts the infra tests check
 * (app settings, Key Vault secrets, parameters, API versions). Only literal syntax is interpreted; an
 * expression the helpers cannot read comes back as its source text so a test fails loudly instead of
 * guessing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BICEP_DIR = path.join(ROOT, 'bicep');

let parser: Promise<Parser> | undefined;

function getParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const language = await Language.load(
      path.join(ROOT, 'node_modules', 'tree-sitter-bicep', 'tree-sitter-bicep.wasm'),
    );
    const created = new Parser();
    created.setLanguage(language);
    return created;
  })();
  return parser;
}

export interface ParsedBicep {
  file: string;
  relative: string;
  source: string;
  tree: Tree;
  root: Node;
}

export async function parseBicepSource(source: string, file: string): Promise<ParsedBicep> {
  const tree = (await getParser()).parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${file}`);
  return { file, relative: path.relative(ROOT, file), source, tree, root: tree.rootNode };
}

export function parseBicep(file: string): Promise<ParsedBicep> {
  return parseBicepSource(readFileSync(file, 'utf8'), file);
}

/** Every `.bicep` file under bicep/, sorted. */
export function bicepFiles(dir = BICEP_DIR): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...bicepFiles(full));
    else if (entry.name.endsWith('.bicep')) found.push(full);
  }
  return found.sort();
}

/** `file:line:column` of every ERROR or MISSING node (1-based, like an editor). */
export function syntaxProblems(parsed: ParsedBicep): string[] {
  const problems: string[] = [];
  const visit = (node: Node): void => {
    if (node.isError || node.isMissing) {
      const { row, column } = node.startPosition;
      const what = node.isMissing
        ? `MISSING ${node.type}`
        : `ERROR near ${JSON.stringify(node.text.slice(0, 40))}`;
      problems.push(`${parsed.relative}:${row + 1}:${column + 1}: ${what}`);
    }
    if (node.hasError || node.isMissing) for (const child of node.children) if (child) visit(child);
  };
  // hasError is true on every ancestor of a problem, so clean subtrees are skipped.
  if (parsed.root.hasError) visit(parsed.root);
  return problems;
}

function named(node: Node): Node[] {
  return node.namedChildren.filter((child): child is Node => child !== null);
}

/** The text of a string literal without interpolation; undefined for anything else. */
export function stringLiteral(node: Node | null | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  const parts = named(node);
  if (parts.some((part) => part.type !== 'string_content' && part.type !== 'escape_sequence'))
    return undefined;
  return parts.map((part) => part.text).join('');
}

/** Keys of an object literal mapped to their value nodes. */
export function objectProperties(node: Node): Map<string, Node> {
  const properties = new Map<string, Node>();
  for (const property of named(node)) {
    if (property.type !== 'object_property') continue;
    const [key, value] = named(property);
    if (!key || !value) continue;
    const name = key.type === 'identifier' ? key.text : stringLiteral(key);
    if (name !== undefined) properties.set(name, value);
  }
  return properties;
}

/** Top-level declarations of one kind (`variable_declaration`, `parameter_declaration` …) by name. */
function declarations(root: Node, type: string): Map<string, Node> {
  const found = new Map<string, Node>();
  for (const child of named(root)) {
    if (child.type !== type) continue;
    const name = named(child).find((part) => part.type === 'identifier');
    if (name) found.set(name.text, child);
  }
  return found;
}

/** The value node of `var <name> = …`. */
export function variableValue(root: Node, name: string): Node | undefined {
  const declaration = declarations(root, 'variable_declaration').get(name);
  return declaration ? named(declaration).at(-1) : undefined;
}

/**
 * Renders a string, replacing `${identifier}` with the value of a same-file string variable when
 * there is one and keeping `${source}` otherwise.
 */
export function renderString(root: Node, node: Node): string | undefined {
  if (node.type !== 'string') return undefined;
  return named(node)
    .map((part) => {
      if (part.type !== 'interpolation') return part.text;
      const inner = named(part)[0];
      if (inner?.type === 'identifier') {
        const value = variableValue(root, inner.text);
        const rendered = value ? renderString(root, value) : undefined;
        if (rendered !== undefined) return rendered;
      }
      return `\${${inner?.text ?? ''}}`;
    })
    .join('');
}

export interface ParameterInfo {
  name: string;
  type: string;
  hasDefault: boolean;
  secure: boolean;
}

/** `param` declarations with their type, whether they default, and whether they are `@secure()`. */
export function parameters(root: Node): ParameterInfo[] {
  const result: ParameterInfo[] = [];
  const children = named(root);
  children.forEach((child, index) => {
    if (child.type !== 'parameter_declaration') return;
    const parts = named(child);
    const previous = children[index - 1];
    const decorators = previous?.type === 'decorators' ? previous.text : '';
    result.push({
      name: parts.find((part) => part.type === 'identifier')?.text ?? '',
      type: parts.find((part) => part.type === 'type')?.text ?? '',
      hasDefault: child.children.some((part) => part?.type === '='),
      secure: /@secure\(\s*\)/.test(decorators),
    });
  });
  return result;
}

export interface ResourceInfo {
  symbol: string;
  /** `Microsoft.X/y@version`, or a child's short type (`config`) for nested declarations. */
  type: string;
  existing: boolean;
  /** The resource body: the object literal, also when wrapped in `if` and/or `for`. */
  body: Node | undefined;
  /** For `[for x in <iterable>: …]`: the loop variable and the iterable node. */
  loop?: { variable: string; iterable: Node };
}

/** Every resource declaration in the file, nested ones included. */
export function resources(root: Node): ResourceInfo[] {
  return root.descendantsOfType('resource_declaration').flatMap((node) => {
    if (!node) return [];
    const parts = named(node);
    const value = parts.at(-1);
    let body: Node | undefined = value;
    let loop: ResourceInfo['loop'];
    if (body?.type === 'for_statement') {
      const variable = body.childForFieldName('initializer')?.text ?? '';
      const iterable = named(body).filter((part) => part.type !== 'comment')[1];
      if (iterable) loop = { variable, iterable };
      body = body.childForFieldName('body') ?? undefined;
    }
    if (body?.type === 'if_statement') body = named(body).find((part) => part.type === 'object');
    return [
      {
        symbol: parts.find((part) => part.type === 'identifier')?.text ?? '',
        type: stringLiteral(parts.find((part) => part.type === 'string')) ?? '',
        existing: node.children.some((part) => part?.type === 'existing'),
        body: body?.type === 'object' ? body : undefined,
        ...(loop ? { loop } : {}),
      },
    ];
  });
}

/**
 * The names a resource declaration creates: its literal `name`, or — for a loop whose `name` is the
 * loop variable — every string of the iterated array literal (a same-file variable).
 */
export function resourceNames(root: Node, resource: ResourceInfo): string[] {
  const nameNode = resource.body ? objectProperties(resource.body).get('name') : undefined;
  const literal = stringLiteral(nameNode);
  if (literal !== undefined) return [literal];
  if (resource.loop && nameNode?.type === 'identifier' && nameNode.text === resource.loop.variable) {
    let iterable: Node | undefined = resource.loop.iterable;
    if (iterable.type === 'identifier') iterable = variableValue(root, iterable.text);
    if (iterable?.type === 'array') return named(iterable).flatMap((item) => stringLiteral(item) ?? []);
  }
  return [];
}

/** `module x '<path>'` paths, relative to the declaring file. */
export function modulePaths(root: Node): string[] {
  return named(root)
    .filter((child) => child.type === 'module_declaration')
    .flatMap((child) => stringLiteral(named(child).find((part) => part.type === 'string')) ?? []);
}
