/** Command-line entry point: reads the environment, starts the server, and stops it cleanly on SIGINT/SIGTERM. */

import { parseConfig } from './config.ts';
import { startServer, type RunningServer } from './server.ts';

/**
 * Forced exit if a graceful shutdown hangs, so a supervisor's stop (systemd waits 90 s, Kubernetes 30 s) never waits
 * long: the close handshake with every client takes at most 2 s, so this is only reached when something is stuck.
 */
const SHUTDOWN_GRACE_MS = 9000;

/** People type and recognise localhost; it is the same loopback origin class, a secure context over plain HTTP. */
function displayUrl(server: RunningServer): string {
  const url = new URL(server.url);
  if (url.hostname === '127.0.0.1') url.hostname = 'localhost';
  return url.origin;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(): Promise<void> {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) {
    console.error(parsed.message);
    process.exit(1);
  }

  let server: RunningServer;
  try {
    server = await startServer(parsed.config);
  } catch (error) {
    console.error(`Parley could not start: ${describe(error)}`);
    process.exit(1);
  }
  console.log(`Parley is running at ${displayUrl(server)}`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      // A second Ctrl-C means "now".
      process.exit(1);
    }
    stopping = true;
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Parley did not shut down cleanly: ${describe(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
