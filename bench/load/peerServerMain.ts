/**
 * PeerServer (the `peer` package, PeerJS's signaling server) for the signaling-load bench, in a process of its own so
 * that its memory is its alone: its own limits raised so that it is the server, not its configuration, being measured.
 */
import { PeerServer } from 'peer';

const port = Number(process.env['PORT'] ?? '0');
PeerServer(
  {
    host: '127.0.0.1',
    port,
    path: '/',
    // Defaults of 5 000 peers and 60 s without a heartbeat would cut the bench short; our clients send no heartbeats.
    concurrent_limit: 1_000_000,
    alive_timeout: 3_600_000,
    allow_discovery: false,
  },
  (server) => {
    const address = server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    console.log(`PeerServer listening on ${bound}`);
  },
);
