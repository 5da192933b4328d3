// pidbox dev | gateway | worker — one command per mode, chosen by one switch (README, "Running").
import { PidboxError } from '../contracts/pidbox-error.js';
import { runDev } from './run-dev.js';
import { runGateway } from './run-gateway.js';
import { runWorker } from './run-worker.js';

const USAGE = `usage: pidbox <command>
  dev       gateway and worker in one process, on a private Redis unless REDIS_URL is set (npm start)
  gateway   the HTTP gateway alone
  worker    a worker alone: runs invocations from the queue in sandboxes
Configuration comes from the environment; README.md lists every variable.`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  switch (command) {
    case 'dev':
      return runDev(process.env);
    case 'gateway':
      return runGateway(process.env);
    case 'worker':
      return runWorker(process.env);
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(command === undefined ? USAGE : `pidbox: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A bad setting says which variable; anything else, what failed.
    console.error(`pidbox: ${error instanceof PidboxError ? error.message : ((error as Error)?.stack ?? String(error))}`);
    process.exit(1);
  },
);
