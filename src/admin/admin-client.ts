import http from 'node:http';

/** One request to a gateway's admin socket; resolves with its JSON answer, rejects on any status but 200. */
function adminRequest(method: 'GET' | 'POST', socketPath: string, urlPath: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: urlPath, method, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${method} ${urlPath}: HTTP ${res.statusCode}: ${body}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GETs a JSON resource from a gateway's admin socket (the CLI, tests and benchmarks read /stats this way). */
export function adminGet(socketPath: string, urlPath: string, timeoutMs = 5000): Promise<unknown> {
  return adminRequest('GET', socketPath, urlPath, timeoutMs);
}

/** POSTs to an action of a gateway's admin socket (`realmgw reload`); a reload may take a while. */
export function adminPost(socketPath: string, urlPath: string, timeoutMs = 60_000): Promise<unknown> {
  return adminRequest('POST', socketPath, urlPath, timeoutMs);
}
