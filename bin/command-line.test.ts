import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helpText, integerValue, listValue, parseCommandArgs, stringValue, type Command } from './command-line.js';

const invoke: Command = {
  name: 'invoke',
  summary: 'Calls a function.',
  usage: 'NAME [-d DATA]',
  options: {
    data: { type: 'string', short: 'd', value: 'DATA', help: 'the body' },
    header: { type: 'string', short: 'H', multiple: true, help: 'a header' },
    async: { type: 'boolean', help: 'queue it' },
    limit: { type: 'string', help: 'how many' },
  },
  positionals: { min: 1, max: 1 },
  run: async () => 0,
};

function parse(argv: string[]) {
  const args = parseCommandArgs(invoke, argv);
  if (args === 'help') throw new Error('help');
  return args;
}

test('flags, repeated flags and arguments are read; -- ends the flags', () => {
  const args = parse(['hello', '-d', '@body.json', '-H', 'A: 1', '--header=B: 2', '--async']);
  assert.deepEqual(args.positionals, ['hello']);
  assert.equal(stringValue(args, 'data'), '@body.json');
  assert.deepEqual(listValue(args, 'header'), ['A: 1', 'B: 2']);
  assert.equal(args.values.async, true);
  assert.deepEqual(parse(['--', '--odd-name']).positionals, ['--odd-name']);
});

test('an unknown flag, a missing value, a value for a switch and a wrong number of arguments are usage errors naming them', () => {
  const usage = (argv: string[], message: RegExp) => assert.throws(() => parseCommandArgs(invoke, argv), { exitCode: 2, message });
  usage(['hello', '--port', '9000'], /^unknown flag --port \(pidbox invoke --help/);
  usage(['hello', '-z'], /^unknown flag -z /);
  usage(['hello', '--data'], /^--data needs a value/);
  usage(['hello', '--async=yes'], /^--async takes no value/);
  usage(['hello', '-d', '-x'], /^-d's value starts with "-": write it as -d=VALUE/);
  usage([], /^missing arguments: usage: pidbox invoke NAME/);
  usage(['a', 'b'], /^unexpected argument "b"/);
});

test('--help or -h anywhere before -- asks for the help, whatever else is wrong', () => {
  assert.equal(parseCommandArgs(invoke, ['--bogus', '-h']), 'help');
  assert.equal(parseCommandArgs(invoke, ['--help']), 'help');
  assert.deepEqual(parse(['--', '-h']).positionals, ['-h']);
  const text = helpText(invoke);
  assert.match(text, /^usage: pidbox invoke NAME \[-d DATA\]\n\nCalls a function\.\n\noptions:\n/);
  assert.match(text, /\n {2}-d, --data DATA {2,}the body\n/);
  assert.match(text, /\n {6}--async {2,}queue it\n/);
  assert.match(text, /-H, --header VALUE +a header \(repeatable\)/);
  assert.match(text, /-h, --help +this help$/);
});

test('a whole-number flag is checked against its bounds', () => {
  assert.equal(integerValue(parse(['x', '--limit', '5']), 'limit', 1, 100), 5);
  assert.equal(integerValue(parse(['x']), 'limit', 1, 100), undefined);
  assert.throws(() => integerValue(parse(['x', '--limit', '0']), 'limit', 1, 100), { exitCode: 2, message: '--limit must be a whole number from 1 to 100, got "0"' });
  assert.throws(() => integerValue(parse(['x', '--limit', 'ten']), 'limit', 1, 100), { exitCode: 2 });
});
