/**
 * A stand-in upstream resolver for LAN forwarding tests, run inside a test namespace:
 *   ip netns exec NS node upstream-dns.js ADDRESS PORT
 * Answers every A question with 198.51.100.7 (TTL 30) over UDP and TCP, and prints "listening" when ready.
 * Built on dns2, whose server is exactly what a small fixture needs.
 */
import dns2 from 'dns2';

const [address = '0.0.0.0', portText = '53'] = process.argv.slice(2);
const port = Number(portText);

const server = dns2.createServer({
  udp: true,
  tcp: true,
  handle: (request, send) => {
    const response = dns2.Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (question && question.type === dns2.Packet.TYPE.A) {
      // dns2's typings want a Resource instance; the plain record below is what its encoder documents and reads.
      response.answers.push({ name: question.name, type: dns2.Packet.TYPE.A, class: dns2.Packet.CLASS.IN, ttl: 30, address: '198.51.100.7' } as never);
    }
    send(response);
  },
});

server.on('listening', () => process.stdout.write('listening\n'));
void server.listen({ udp: { port, address }, tcp: { port, address } });
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
