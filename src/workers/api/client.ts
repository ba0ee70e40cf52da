/**
 * The worker's side of the registration API. One request per connection (no keep-alive): the gateway maps to
 * the peer address of each request, so a fresh connection from the worker's current address is what counts.
 */
import http from 'node:http';
import { type Action, type LeasesBody, type NatSummary, type RegisterBody, type WireErrorCode, routePath } from './protocol.js';

export interface WorkersApiClientOptions {
  /** The gateway's API address and port (on the private network). */
  address: string;
  port: number;
  worker: string;
  secret: string;
  timeoutMs?: number;
  /** Source address of the connections (default: the kernel's choice). */
  localAddress?: string;
}

/** The gateway answered with a refusal. */
export class ApiRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: WireErrorCode | 'unknown',
    message: string,
  ) {
    super(`gateway refused (${status} ${code}): ${message}`);
    this.name = 'ApiRefusedError';
  }
}

/** No answer: connection refused or reset, timeout, or something that is not the workers API. */
export class ApiUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiUnreachableError';
  }
}

export class WorkersApiClient {
  constructor(private readonly opts: WorkersApiClientOptions) {}

  register(services: RegisterBody['services'], nat?: NatSummary): Promise<LeasesBody> {
    return this.call('register', nat === undefined ? { services } : { services, nat }) as Promise<LeasesBody>;
  }

  heartbeat(): Promise<LeasesBody> {
    return this.call('heartbeat', undefined) as Promise<LeasesBody>;
  }

  async deregister(): Promise<void> {
    await this.call('deregister', undefined);
  }

  private call(action: Action, body: RegisterBody | undefined): Promise<unknown> {
    const { address, port, worker, secret, localAddress } = this.opts;
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const text = body === undefined ? '' : JSON.stringify(body);
    const target = `${address}:${port}`;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: address,
          port,
          localAddress,
          method: action === 'deregister' ? 'DELETE' : 'POST',
          path: routePath(action, worker),
          agent: false,
          timeout: timeoutMs,
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => {
            let doc: unknown;
            try {
              doc = JSON.parse(data);
            } catch {
              return reject(new ApiUnreachableError(`${target} answered ${action} with HTTP ${res.statusCode} and no JSON: not the workers API?`));
            }
            if (res.statusCode === 200) return resolve(doc);
            const e = (typeof doc === 'object' && doc !== null ? doc : {}) as { error?: unknown; message?: unknown };
            reject(new ApiRefusedError(res.statusCode ?? 0, typeof e.error === 'string' ? (e.error as WireErrorCode) : 'unknown', String(e.message ?? '')));
          });
          res.on('error', (err) => reject(new ApiUnreachableError(`${target}: ${err.message}`, { cause: err })));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new ApiUnreachableError(`${action} to ${target}: ${err.message}`, { cause: err })));
      req.end(text);
    });
  }
}
