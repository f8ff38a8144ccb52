/**
 * Runs a command (the browser tests, the benchmarks) inside a private network namespace with one veth
 * pair and a default route: WebRTC gets host candidates there, and no packet can leave the machine.
 * Without root or `unshare` (a laptop), it runs the command directly on the normal network instead.
 */
import { spawnSync } from 'node:child_process';
import { ensureChromium } from './chromium.ts';

const command = process.argv.slice(2);
if (command.length === 0) {
  console.error('usage: tsx tests/run-in-netns.ts <command> [args...]');
  process.exit(2);
}

// Here, before the private namespace: Playwright's installer, if it is needed, needs the network.
const env = { ...process.env, CHROMIUM_PATH: ensureChromium() };

const NETNS_SETUP = `
set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.77.0.1/24 dev v0
ip addr add 10.77.0.2/24 dev v1
ip link set v0 up
ip link set v1 up
ip route add default via 10.77.0.2 dev v0
exec "$@"`;

function canUseNetns(): boolean {
  if (process.env['PARLEY_NO_NETNS'] === '1' || process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['-n', 'true']).status === 0 && spawnSync('ip', ['-V']).status === 0;
}

const [program, ...args] = command;
const result = canUseNetns()
  ? spawnSync('unshare', ['-n', 'sh', '-c', NETNS_SETUP, 'sh', ...command], { stdio: 'inherit', env })
  : (console.warn('Note: not root or no unshare; running on the normal network.'), spawnSync(program ?? '', args, { stdio: 'inherit', env }));
if (result.error !== undefined) console.error(`Could not run ${command.join(' ')}: ${result.error.message}`);
process.exit(result.status ?? 1);
