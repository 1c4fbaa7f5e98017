// CEL for custom guards (@marcbachmann/cel-js): the one environment every
// expression runs in, the checks an expression must pass when the policy is
// PUT, a cache of compiled programs, and the conversion of the agent's values
// into plain CEL values. Pure.
//
// The admin writes the expression; the agent writes `params`, `context`,
// `action`, `agent` and `cost_usd`. So:
// * cel-js is an interpreter over its own AST (no eval, no Function); field
//   access reads own properties only (Object.hasOwn), and `__proto__` and
//   `prototype` are reserved words. We still hand it no agent object: maps
//   become `Map`s of plain values (toCelValue), so a key named `__proto__` or
//   `constructor` is only a string.
// * Evaluation must stay linear in the agent's input, and cel-js has no
//   step limit, so the shape of the expression is restricted instead: at most
//   2,000 characters, 400 AST nodes, depth 24; no comprehension (all, exists,
//   exists_one, map, filter) inside another; a comprehension's body reads only
//   its element and the small engine-made values (time, counters, cost_usd,
//   action, agent), never `params` or `context` again — else
//   `params.list.exists(x, params.text.contains(x))` would be |list|·|text|;
//   no `cel.bind` (which could double a value per level).
// * `matches` is JS RegExp in cel-js (backtracking): refused; `matchesRe2`
//   with a literal pattern runs on RE2 (../regex.ts).
import { Environment } from '@marcbachmann/cel-js';
import { re2Problem, re2Test } from '../regex.ts';

export const MAX_EXPRESSION_LENGTH = 2000;
const LIMITS = { maxAstNodes: 400, maxDepth: 24, maxListElements: 200, maxMapEntries: 200, maxCallArguments: 8 };
/** How deep the agent's params / context may nest before a custom guard refuses to read them. */
export const MAX_VALUE_DEPTH = 64;

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
/** What a comprehension's body may read besides its own element: engine-made or length-bounded. */
const BODY_SAFE = new Set(['time', 'counters', 'cost_usd', 'action', 'agent']);

export const CEL_VARIABLES = ['action', 'agent', 'params', 'context', 'time', 'cost_usd', 'counters'] as const;

const env = new Environment({ limits: LIMITS })
  .registerVariable('action', 'string')
  .registerVariable('agent', 'string')
  .registerVariable('params', 'map')
  .registerVariable('context', 'map')
  .registerVariable('time', 'map')
  .registerVariable('cost_usd', 'double')
  .registerVariable('counters', 'map')
  .registerFunction('string.matchesRe2(string): bool', (s: string, pattern: string) => re2Test(pattern, s));

export interface CelVars {
  action: string;
  agent: string;
  params: Map<string, unknown>;
  context: Map<string, unknown>;
  time: Map<string, unknown>;
  cost_usd: number;
  counters: Map<string, bigint>;
}

export type Program = (vars: CelVars) => unknown;

// The AST as cel-js parses it: { op, args }, where args holds child nodes,
// names and literals depending on op ('rcall': [name, receiver, args[]],
// 'call': [name, args[]], 'id': name, '.': [node, field], 'value': literal).
interface Node {
  op: string;
  args: unknown;
}
const isNode = (x: unknown): x is Node => typeof x === 'object' && x !== null && typeof (x as Node).op === 'string' && 'args' in x;

function children(n: Node): Node[] {
  const out: Node[] = [];
  const visit = (x: unknown) => {
    if (isNode(x)) out.push(x);
    else if (Array.isArray(x)) for (const y of x) visit(y);
  };
  if (n.op !== 'value' && n.op !== 'id') visit(n.args);
  return out;
}

/** The problems with an expression's shape (see the header), given the counter names it may read. */
function shapeProblems(root: Node, counters: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const walk = (n: Node, scope: ReadonlySet<string> | null) => {
    if (n.op === 'id') {
      const name = n.args as string;
      if (scope && !scope.has(name) && !BODY_SAFE.has(name)) {
        problems.push(`inside all/exists/exists_one/map/filter only the element, time, counters, cost_usd, action and agent can be read, not "${name}" (keeps evaluation linear in the input)`);
      }
      return;
    }
    if (n.op === '.' && isNode((n.args as unknown[])[0])) {
      const [target, field] = n.args as [Node, string];
      if (target.op === 'id' && target.args === 'counters' && !counters.has(field)) problems.push(`counters.${field} is not declared in this guard's counters`);
    }
    if (n.op === 'rcall' || n.op === 'call') {
      const name = (n.args as unknown[])[0] as string;
      const receiver = n.op === 'rcall' ? ((n.args as unknown[])[1] as Node) : undefined;
      const args = ((n.op === 'rcall' ? (n.args as unknown[])[2] : (n.args as unknown[])[1]) ?? []) as Node[];
      if (name === 'matches') {
        problems.push('matches() uses a backtracking regex engine; use matchesRe2("pattern") (RE2, linear time) instead');
      }
      if (name === 'matchesRe2') {
        const p = args[0];
        if (!p || p.op !== 'value' || typeof p.args !== 'string') problems.push('matchesRe2() takes a string literal pattern');
        else {
          const problem = re2Problem(p.args);
          if (problem) problems.push(`matchesRe2("${p.args}"): ${problem}`);
        }
      }
      if (name === 'bind' && receiver?.op === 'id' && receiver.args === 'cel') {
        problems.push('cel.bind is not allowed in custom guards');
        return;
      }
      if (n.op === 'rcall' && COMPREHENSIONS.has(name) && receiver) {
        if (scope) {
          problems.push(`${name}() inside another all/exists/exists_one/map/filter is not allowed (evaluation must stay linear in the input)`);
          return;
        }
        walk(receiver, scope);
        const iter = args[0];
        const inner = new Set<string>(iter?.op === 'id' ? [iter.args as string] : []);
        for (const a of args.slice(1)) walk(a, inner);
        return;
      }
    }
    for (const c of children(n)) walk(c, scope);
  };
  walk(root, null);
  return [...new Set(problems)];
}

interface Compiled {
  program?: Program;
  problems: string[];
  /** The variables the expression names (so the agent's params / context are converted only when read). */
  uses: ReadonlySet<string>;
}

function identifiers(root: Node): Set<string> {
  const out = new Set<string>();
  const walk = (n: Node) => {
    if (n.op === 'id') out.add(n.args as string);
    else for (const c of children(n)) walk(c);
  };
  walk(root);
  return out;
}

// Compiled programs by expression and counter names: a policy's expressions
// are parsed when it is PUT and then served from here, never per request.
// Bounded, oldest first out, so a stream of PUTs cannot grow it forever.
const cache = new Map<string, Compiled>();
const CACHE_MAX = 2000;

function compileUncached(expression: string, counters: ReadonlySet<string>): Compiled {
  const none = new Set<string>();
  if (expression.length > MAX_EXPRESSION_LENGTH) return { problems: [`an expression is at most ${MAX_EXPRESSION_LENGTH} characters`], uses: none };
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    return { problems: [`does not parse: ${firstLine(err)}`], uses: none };
  }
  const ast = parsed.ast as unknown as Node;
  const shape = shapeProblems(ast, counters);
  if (shape.length > 0) return { problems: shape, uses: none };
  const checked = parsed.check();
  if (!checked.valid) return { problems: [`does not type-check: ${firstLine(checked.error)}`], uses: none };
  if (checked.type !== 'bool' && checked.type !== 'dyn') return { problems: [`must be a bool expression (this one is ${checked.type})`], uses: none };
  return { program: parsed as unknown as Program, problems: [], uses: identifiers(ast) };
}

/** Parses, checks and caches an expression; `problems` empty means `program` is set. */
export function compile(expression: string, counters: Iterable<string> = []): Compiled {
  const names = new Set(counters);
  const key = `${[...names].sort().join(',')}\0${expression}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const compiled = compileUncached(expression, names);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, compiled);
  return compiled;
}

function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0]!;
}

/** Runs a compiled program: true or false, else throws with why (a CEL error, or a result that is not a bool). */
export function run(program: Program, vars: CelVars): boolean {
  let result: unknown;
  try {
    result = program(vars);
  } catch (err) {
    throw new Error(firstLine(err));
  }
  if (typeof result !== 'boolean') throw new Error(`the expression gave ${result instanceof Map ? 'a map' : Array.isArray(result) ? 'a list' : typeof result}, not a bool`);
  return result;
}

/**
 * The agent's JSON as plain CEL values: objects become Maps of their own
 * keys (any key, `__proto__` or `constructor` included, is just a string —
 * a plain object with an own `constructor` key would confuse cel-js's type
 * detection), arrays stay arrays, finite numbers stay numbers (CEL doubles;
 * they compare with CEL ints), and anything else — a non-finite number,
 * undefined, a function, a class instance — becomes null. Deeper than
 * MAX_VALUE_DEPTH throws: the guard then fails closed rather than read half a
 * value. `checkpoint` (the time budget) is asked every 1,024 values.
 */
export function toCelValue(v: unknown, checkpoint: () => void = () => {}): unknown {
  let seen = 0;
  const convert = (x: unknown, depth: number): unknown => {
    if (depth > MAX_VALUE_DEPTH) throw new Error(`the value is nested deeper than ${MAX_VALUE_DEPTH} levels`);
    if ((++seen & 1023) === 0) checkpoint();
    if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
    if (typeof x === 'number') return Number.isFinite(x) ? x : null;
    if (Array.isArray(x)) return x.map((y) => convert(y, depth + 1));
    if (typeof x === 'object' && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null)) {
      const m = new Map<string, unknown>();
      for (const k of Object.keys(x)) m.set(k, convert((x as Record<string, unknown>)[k], depth + 1));
      return m;
    }
    return null;
  };
  return convert(v, 0);
}

export function toCelMap(v: Record<string, unknown> | undefined, checkpoint?: () => void): Map<string, unknown> {
  const m = v === undefined ? null : toCelValue(v, checkpoint);
  return m instanceof Map ? m : new Map();
}
