// What a node function's entry exports as default, found without running a line of it, so that
// GET /functions and /readyz can say a function is broken before anyone calls it. esbuild parses the
// entry alone (no bundling: the default export of a module is always its own, `export *` never
// passes one on) and says which names it exports; its output, printed the way esbuild prints, is
// then read for what the default is bound to. That reading answers "not a function" only when it
// is sure (a literal, an object or array, a class, `new X()`, through `const` names); anything it
// cannot follow (an import, a call's result, a binding assigned again) is `unknown`, and the node
// host checks again when the module loads.
import { buildSync, type Loader, type Message } from 'esbuild';

export type DefaultExport =
  | { kind: 'function' }
  /** Not known without running the module (imported, computed, CommonJS's module.exports). */
  | { kind: 'unknown' }
  | { kind: 'none' }
  /** `what`: what it is instead, as a message says it ("a class", "an object", …). */
  | { kind: 'not-a-function'; what: string }
  /** The entry does not parse; `message` is esbuild's, with the line. */
  | { kind: 'syntax-error'; message: string };

const LOADERS: Record<string, Loader> = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js' };
/** How many `const a = b` steps are followed from the default to what it is. */
const MAX_HOPS = 4;

/** Inspects the entry's source; `fileName` (`index.ts`) picks the loader and names it in messages. */
export function inspectDefaultExport(source: Uint8Array, fileName: string): DefaultExport {
  const extension = fileName.slice(fileName.lastIndexOf('.'));
  let result;
  try {
    result = buildSync({
      stdin: { contents: source, loader: LOADERS[extension] ?? 'js', sourcefile: fileName },
      bundle: false,
      write: false,
      metafile: true,
      format: 'esm',
      outfile: 'inspected.mjs',
      logLevel: 'silent',
      // No comments, and template literals as plain strings: then no line of the output begins
      // inside a literal, and every line that begins at column 0 begins a top-level statement.
      legalComments: 'none',
      supported: { 'template-literal': false },
    });
  } catch (error) {
    const first = ((error as { errors?: Message[] }).errors ?? [])[0];
    if (!first) throw error;
    const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    return { kind: 'syntax-error', message: `${where}${first.text}` };
  }
  const input = Object.values(result.metafile.inputs)[0];
  // CommonJS: the default is module.exports, whatever the module assigns it.
  if (input?.format === 'cjs') return { kind: 'unknown' };
  const exports = Object.values(result.metafile.outputs)[0]?.exports ?? [];
  if (!exports.includes('default')) return { kind: 'none' };
  const lines = result.outputFiles[0]!.text.split('\n');
  const bound = defaultBinding(lines);
  return bound === null ? { kind: 'unknown' } : classifyBinding(lines, bound, MAX_HOPS);
}

/** The local name esbuild's closing `export { name as default }` gives the default, or null. */
function defaultBinding(lines: string[]): string | null {
  const start = lines.lastIndexOf('export {');
  if (start < 0) return null;
  for (const line of lines.slice(start + 1)) {
    if (line === '};') break;
    const match = /^ {2}([\w$]+) as default,?$/.exec(line);
    if (match) return match[1]!;
  }
  return null;
}

function classifyBinding(lines: string[], name: string, hops: number): DefaultExport {
  const word = (before: string): RegExp => new RegExp(`${before}${name.replace(/\$/g, '\\$')}(?![\\w$])`);
  const declaration = word('^(?:(?:async )?function\\*? |class |(?:const|let|var) )');
  const at = lines.flatMap((line, index) => (declaration.test(line) ? [index] : []));
  if (at.length !== 1) return { kind: 'unknown' };
  const line = lines[at[0]!]!;
  if (/^(?:async )?function/.test(line)) return { kind: 'function' };
  // A binding other than `const` that is named anywhere but where it is declared and used may be
  // assigned again there (a `let` set later, a class replaced): then what it holds is not sure.
  const mentions = lines.filter((l) => word('(?:^|[^\\w$.])').test(l)).length;
  if (!line.startsWith('const ') && mentions > 2) return { kind: 'unknown' };
  if (line.startsWith('class ')) return { kind: 'not-a-function', what: A_CLASS };
  const initializer = /^(?:const|let|var) [\w$]+ = ([\s\S]*)$/.exec(statementAt(lines, at[0]!))?.[1];
  if (initializer === undefined) return { kind: 'unknown' };
  const alias = /^([A-Za-z_$][\w$]*);$/.exec(initializer)?.[1];
  if (alias && !['undefined', 'null', 'true', 'false', 'NaN', 'Infinity'].includes(alias)) {
    return hops > 0 ? classifyBinding(lines, alias, hops - 1) : { kind: 'unknown' };
  }
  return classifyExpression(initializer);
}

const A_CLASS = 'a class (pidbox calls the default export, and a class cannot be called without new)';

/**
 * The statement that starts at line `index`: its line and the indented lines after it, and the line
 * at column 0 that closes it (`};`, `]);`).
 */
function statementAt(lines: string[], index: number): string {
  let end = index + 1;
  while (end < lines.length && /^\s/.test(lines[end]!)) end++;
  if (end < lines.length && /^[}\])]/.test(lines[end]!)) end++;
  return lines.slice(index, end).join('\n');
}

/**
 * What an initializer (`…;`, the rest of its statement) makes the binding, when its form settles it:
 * a literal, object, array, class or `new X(…)` that is the whole expression (`[f][0]` is not an
 * array, `{}.toString` not an object), or a function expression.
 */
function classifyExpression(expression: string): DefaultExport {
  const e = expression.replace(/^\/\* @__PURE__ \*\/ /, '');
  const not = (what: string): DefaultExport => ({ kind: 'not-a-function', what });
  /** Whether the bracket group opening at `open` closes just before the final `;`. */
  const wholeFrom = (open: number): boolean => open >= 0 && closeOf(e, open) === e.length - 2 && e.endsWith(';');
  // `(expression)`: what is inside.
  if (e.startsWith('(') && wholeFrom(0)) return classifyExpression(`${e.slice(1, -2)};`);
  const asyncArrow = /^(?:async )?/.exec(e)![0].length;
  if (/^(?:async )?[\w$]+ =>/.test(e)) return { kind: 'function' };
  if (e[asyncArrow] === '(' && e.startsWith(' =>', closeOf(e, asyncArrow) + 1)) return { kind: 'function' };
  const fn = /^(?:async )?function\*? ?[\w$]* ?\(/.exec(e);
  if (fn) {
    const params = closeOf(e, fn[0].length - 1);
    return params > 0 && e.startsWith(' {', params + 1) && wholeFrom(params + 2) ? { kind: 'function' } : { kind: 'unknown' };
  }
  if (/^class (?:[\w$]+ )?\{/.test(e)) return wholeFrom(e.indexOf('{')) ? not(A_CLASS) : { kind: 'unknown' };
  if (e.startsWith('{')) return wholeFrom(0) ? not('an object') : { kind: 'unknown' };
  if (e.startsWith('[')) return wholeFrom(0) ? not('an array') : { kind: 'unknown' };
  if (/^(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*');$/.test(e)) return not('a string');
  // A template literal, as esbuild lowers it.
  const concat = /^"(?:[^"\\]|\\.)*"\.concat\(/.exec(e);
  if (concat && wholeFrom(concat[0].length - 1)) return not('a string');
  if (/^-?(?:0[xob][\da-f_]+|\d[\d_]*(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)n?;$/i.test(e)) return not('a number');
  const constant = /^(true|false|null|void 0|undefined);$/.exec(e)?.[1];
  if (constant) return not(constant === 'true' || constant === 'false' ? 'a boolean' : constant === 'null' ? 'null' : 'undefined');
  // new Function() and new Proxy(f, …) make functions; another constructor, as a rule, an object.
  const constructed = /^new ([\w$.]+)/.exec(e);
  if (constructed && constructed[1] !== 'Function' && constructed[1] !== 'Proxy') {
    const after = constructed[0].length;
    if (e.slice(after) === ';' || (e[after] === '(' && wholeFrom(after))) return not(`an object (new ${constructed[1]}(…))`);
  }
  return { kind: 'unknown' };
}

/**
 * The index of the bracket that closes the one at `open`, skipping quoted strings (the output has
 * no template literals and no comments); -1 when it does not close. A regular expression holding a
 * bracket or a quote can mislead it; what it then finds is, in practice, no close or one too early,
 * and either leaves the expression `unknown`.
 */
function closeOf(text: string, open: number): number {
  const closers: string[] = [];
  const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (pairs[c]) {
      closers.push(pairs[c]!);
    } else if (c === ')' || c === ']' || c === '}') {
      if (closers.pop() !== c) return -1;
      if (closers.length === 0) return i;
    }
  }
  return -1;
}
