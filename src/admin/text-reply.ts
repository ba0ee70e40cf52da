/**
 * A route's answer that is not JSON: its own status, content type and body (Prometheus' text format, the plain
 * `ok` of a health check). The admin server and the metrics listener send it as it is.
 */
export class TextReply {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly body: string,
  ) {}
}
