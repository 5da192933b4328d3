// Waits for SIGINT or SIGTERM. A second one while shutting down exits at once: the sandboxes and an
// embedded Redis die with the process (their parent-death signal), so nothing is left behind.
export function untilSignal(name: string): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received: NodeJS.Signals | null = null;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        console.error(`${name}: ${signal} again, exiting now`);
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      }
      received = signal;
      console.error(`${name}: ${signal}, shutting down`);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
