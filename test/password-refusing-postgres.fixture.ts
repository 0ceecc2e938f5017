import { createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP peer that speaks just enough of PostgreSQL's wire protocol to refuse a password the way a
 * server with `password` authentication in pg_hba.conf does: it asks for the password in clear
 * text, records it, and answers FATAL 28P01 "password authentication failed". The machine's own
 * PostgreSQL trusts every local connection, so it never asks for one.
 */
export interface PasswordRefusingPostgres {
  readonly port: number;
  /** Every password a client sent, in order. */
  readonly passwordsReceived: readonly string[];
  close(): Promise<void>;
}

const sslRequestCode = 80_877_103;
const gssRequestCode = 80_877_104;

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function errorResponse(user: string): Buffer {
  const fields = [['S', 'FATAL'], ['V', 'FATAL'], ['C', '28P01'], ['M', `password authentication failed for user "${user}"`]];
  return message('E', Buffer.concat([...fields.map(([code, text]) => Buffer.from(`${code ?? ''}${text ?? ''}\0`, 'utf8')), Buffer.from([0])]));
}

function serve(socket: Socket, passwords: string[]): void {
  let buffered = Buffer.alloc(0);
  let user = '';
  let started = false;
  socket.on('error', () => undefined);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (!started) {
        if (buffered.length < 8) return;
        const length = buffered.readInt32BE(0);
        if (buffered.length < length) return;
        const code = buffered.readInt32BE(4);
        const params = buffered.subarray(8, length).toString('utf8').split('\0');
        buffered = buffered.subarray(length);
        if (code === sslRequestCode || code === gssRequestCode) {
          socket.write('N');
          continue;
        }
        user = params[params.indexOf('user') + 1] ?? '';
        started = true;
        const ask = Buffer.alloc(4);
        ask.writeInt32BE(3); // AuthenticationCleartextPassword
        socket.write(message('R', ask));
        continue;
      }
      if (buffered.length < 5) return;
      const length = buffered.readInt32BE(1);
      if (buffered.length < length + 1) return;
      const type = buffered.toString('latin1', 0, 1);
      const body = buffered.subarray(5, length + 1);
      buffered = buffered.subarray(length + 1);
      if (type === 'p') {
        passwords.push(body.toString('utf8').replace(/\0$/, ''));
        socket.end(errorResponse(user));
        return;
      }
    }
  });
}

export async function startPasswordRefusingPostgres(): Promise<PasswordRefusingPostgres> {
  const passwordsReceived: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, passwordsReceived);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    passwordsReceived,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => { resolve(); });
      }),
  };
}
