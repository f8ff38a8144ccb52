/**
 * Starts Parley's one HTTP(S) server: the web app, the signaling WebSocket, health and readiness checks, metrics and
 * TURN credentials, all on one port; with REDIS_URL, as one of several instances sharing rooms.
 */

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions } from 'ws';
import type { ServerConfig, TlsFiles } from './config.ts';
import type { RoomCluster } from './cluster.ts';
import { SignalingHub } from './hub.ts';
import { createLogger, TurnAwayLog, writeToStdout, type LineWriter } from './logger.ts';
import { Metrics } from './metrics.ts';
import { RedisCluster } from './redisCluster.ts';
import { addressKey, clientAddress, CountsByKey, upgradeOriginAllowed, type OriginPolicy } from './requestSource.ts';
import { sendJson, sendPlainText } from './respond.ts';
import { readSignalingOrigins, securityHeaders, type SecurityHeaders } from './securityHeaders.ts';
import { serveStaticFile } from './staticFiles.ts';
import { TURN_CREDENTIALS_PATH, TurnCredentialsEndpoint } from './turnCredentials.ts';

export type RunningServer = {
  /** http(s)://host:port with the port actually bound, which matters when the config asked for port 0. */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful shutdown: stops accepting, reports not ready, closes every WebSocket with 1012 so clients reconnect
   * (elsewhere, if they know other instances), leaves the cluster. Resolves when all of that is done.
   */
  close(): Promise<void>;
};

export const WEBSOCKET_PATH = '/ws';

/** How long ws waits for a client to answer our close frame before cutting the TCP connection. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 2000;

/** How often Node looks for requests past REQUEST_TIMEOUT_MS, so a slow client is cut within the sum of the two. */
const CONNECTIONS_CHECK_MS = 1_000;

/**
 * TCP connections in every state (page loads, upgrades in progress, WebSockets, refusals being closed) may number
 * this many times the WebSocket limits, globally and per address: enough for honest page loads next to full
 * WebSocket quotas, and a bound on what unfinished requests can hold.
 */
const TCP_CONNECTIONS_FACTOR = 2;

type TlsMaterial = { readonly cert: Buffer; readonly key: Buffer };

async function readTlsFile(filePath: string, setting: string): Promise<Buffer> {
  try {
    return await readFile(filePath);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Could not read the ${setting} file ${filePath}: ${reason}`, { cause: error });
  }
}

async function readTls(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readTlsFile(files.certPath, 'TLS_CERT'), readTlsFile(files.keyPath, 'TLS_KEY')]);
  return { cert, key };
}

function pathOf(requestTarget: string | undefined): string {
  return (requestTarget ?? '/').split('?', 1)[0] ?? '/';
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** For answers written straight to a socket, outside Node's response machinery (refused upgrades, unparsable requests). */
function rawHttpResponse(status: number, statusText: string, headers: SecurityHeaders, body: string): string {
  const lines = [
    `HTTP/1.1 ${status} ${statusText}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** What the HTTP side needs to answer its operational endpoints. */
type Operations = {
  readonly readiness: () => 'ready' | 'draining' | 'redis-unavailable';
  readonly metrics: () => string;
  readonly turn: TurnCredentialsEndpoint;
};

function handleRequest(req: http.IncomingMessage, res: http.ServerResponse, headers: SecurityHeaders, staticDir: string, ops: Operations): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  const path = pathOf(req.url);
  if (path === TURN_CREDENTIALS_PATH) {
    ops.turn.handle(req, res);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendPlainText(res, 405, 'Only GET and HEAD are allowed here.', { Allow: 'GET, HEAD' });
    return;
  }
  switch (path) {
    case '/healthz':
      sendJson(res, 200, { status: 'ok' });
      return;
    case '/readyz': {
      // A load balancer sends new connections only where joins can succeed.
      const status = ops.readiness();
      sendJson(res, status === 'ready' ? 200 : 503, { status });
      return;
    }
    case '/metrics':
      sendPlainText(res, 200, ops.metrics(), {}, 'text/plain; version=0.0.4; charset=utf-8');
      return;
    default:
      break;
  }
  serveStaticFile(res, staticDir, req.url ?? '/').catch(() => {
    if (res.headersSent) res.destroy();
    else sendPlainText(res, 500, 'Internal error.');
  });
}

function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const where = `${urlHost(host)}:${port}`;
      switch (error.code) {
        case 'EADDRINUSE':
          reject(new Error(`Port ${port} on ${host} is already in use. Set PORT to a free port.`, { cause: error }));
          return;
        case 'EACCES':
          reject(new Error(`Not allowed to listen on ${where}. Pick a PORT above 1023 or run with the needed rights.`, { cause: error }));
          return;
        case 'EADDRNOTAVAIL':
        case 'ENOTFOUND':
          reject(new Error(`HOST ${host} is not an address of this machine.`, { cause: error }));
          return;
        default:
          reject(new Error(`Could not listen on ${where}: ${error.message}`, { cause: error }));
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('The server is not listening on a TCP port.'));
        return;
      }
      resolve(address);
    });
  });
}

/**
 * Answers an upgrade we refuse and lets go of the socket once the answer is written, so a client that never closes
 * its end cannot keep it.
 */
function refuseUpgrade(socket: Duplex, status: number, statusText: string, headers: SecurityHeaders, body: string): void {
  socket.end(rawHttpResponse(status, statusText, headers, body), () => socket.destroy());
}

/**
 * Without a proxy, every TCP connection counts against its peer address, so that one host cannot fill the server
 * with requests it never finishes. Behind a trusted proxy every connection comes from the proxy, which is then the
 * place for such a limit.
 */
function limitConnectionsPerAddress(server: http.Server, maxPerAddress: number, turnAways: TurnAwayLog): void {
  const counts = new CountsByKey();
  server.on('connection', (socket: Socket) => {
    const key = addressKey(socket.remoteAddress ?? '');
    if (key === null) return;
    if (counts.get(key) >= maxPerAddress) {
      turnAways.note('address-overload', 'An address opened more TCP connections than one address may hold.');
      socket.destroy();
      return;
    }
    counts.add(key);
    socket.once('close', () => counts.remove(key));
  });
}

export async function startServer(config: ServerConfig, writeLine: LineWriter = writeToStdout): Promise<RunningServer> {
  const log = createLogger(config.log, writeLine);
  const metrics = new Metrics();
  const turnAways = new TurnAwayLog(log, (code) => metrics.refused(code));
  const tls = config.tls === null ? null : await readTls(config.tls);
  const headers = securityHeaders({
    tls: tls !== null,
    extraConnectOrigins: await readSignalingOrigins(config.staticDir),
  });
  const originPolicy: OriginPolicy = { tls: tls !== null, trustProxy: config.trustProxy, allowedOrigins: new Set(config.allowedOrigins) };

  const hub = new SignalingHub(config, log, turnAways, metrics);
  let draining = false;
  let cluster: RoomCluster | null = null;
  const ops: Operations = {
    readiness: () => (draining ? 'draining' : cluster !== null && !cluster.ready ? 'redis-unavailable' : 'ready'),
    metrics: () =>
      metrics.render({
        connections: hub.connectionCount,
        rooms: hub.roomCount,
        redis: cluster === null ? null : { up: cluster.ready, roundTripSeconds: cluster.roundTripSeconds },
      }),
    turn: new TurnCredentialsEndpoint(config.turn, originPolicy, metrics),
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => handleRequest(req, res, headers, config.staticDir, ops);
  const serverOptions: http.ServerOptions = {
    headersTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
  const server =
    tls === null
      ? http.createServer(serverOptions, onRequest)
      : https.createServer({ ...serverOptions, cert: tls.cert, key: tls.key, handshakeTimeout: config.requestTimeoutMs }, onRequest);
  server.maxConnections = TCP_CONNECTIONS_FACTOR * config.maxConnections;
  server.on('drop', () => turnAways.note('server-busy', 'The server holds as many TCP connections as it may.'));
  if (!config.trustProxy) limitConnectionsPerAddress(server, TCP_CONNECTIONS_FACTOR * config.maxConnectionsPerAddress, turnAways);

  // closeTimeout exists in ws 8.23 but not yet in @types/ws, so it rides along on a widened object.
  const wsOptions: ServerOptions & { readonly closeTimeout: number } = {
    noServer: true,
    // Longer messages are closed with 1009 as soon as their length (or their fragments' total) passes the limit,
    // so no client can make the server hold more than one frame's worth of an unfinished message.
    maxPayload: config.maxFrameBytes,
    // Compression would let a small frame inflate into a large one and costs CPU for blobs that are already random.
    perMessageDeflate: false,
    // The hub tracks its own sockets.
    clientTracking: false,
    closeTimeout: CLOSE_HANDSHAKE_TIMEOUT_MS,
  };
  const wss = new WebSocketServer(wsOptions);

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (pathOf(req.url) !== WEBSOCKET_PATH) {
      refuseUpgrade(socket, 404, 'Not Found', headers, 'WebSocket connections are only accepted at /ws.\n');
      return;
    }
    if (!upgradeOriginAllowed(req, originPolicy)) {
      turnAways.note('origin-refused', 'A page of another origin tried to open the signaling WebSocket.');
      refuseUpgrade(socket, 403, 'Forbidden', headers, 'This server does not accept WebSocket connections from pages of that origin.\n');
      return;
    }
    const address = addressKey(clientAddress(req, config.trustProxy) ?? '') ?? 'unknown';
    wss.handleUpgrade(req, socket, head, (ws) => hub.accept(ws, address));
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // Past REQUEST_TIMEOUT_MS Node reports the unfinished request here; anything else is a request it could not parse.
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.end(rawHttpResponse(408, 'Request Timeout', headers, 'The request took too long.\n'));
    else socket.end(rawHttpResponse(400, 'Bad Request', headers, 'Bad request.\n'));
  });

  if (config.redisUrl !== null) {
    cluster = await RedisCluster.start(config.redisUrl, { deliver: (delivery) => hub.deliver(delivery), registrationLost: () => hub.rejoinEveryone() }, log);
    hub.useCluster(cluster);
  }

  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (error) {
    await hub.close();
    await cluster?.close();
    throw error;
  }

  let closing: Promise<void> | null = null;
  return {
    url: `${tls === null ? 'http' : 'https'}://${urlHost(config.host)}:${address.port}`,
    port: address.port,
    close() {
      closing ??= (async () => {
        draining = true;
        log({ kind: 'draining', connections: hub.connectionCount });
        const httpClosed = new Promise<void>((resolve) => {
          wss.close();
          server.close(() => resolve());
          // Keep-alive HTTP connections would otherwise hold close() open until they time out.
          server.closeAllConnections();
        });
        // Members leave the shared rooms as their sockets close, before this instance leaves the cluster.
        await hub.close();
        turnAways.flush();
        await cluster?.close();
        await httpClosed;
      })();
      return closing;
    },
  };
}
