// Reading a running gateway's text routes (/metrics, /healthz, /readyz) over its admin socket, for e2e tests.
import http from 'node:http';

/** GET over the admin socket: status, content type, body. */
export function adminText(socketPath: string, urlPath: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: urlPath }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

/** A sample's value in a scrape (`name{labels}` exactly as printed), undefined when absent. */
export function sampleValue(scrape: string, series: string): number | undefined {
  const line = scrape.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
