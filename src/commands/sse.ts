/**
 * Server-Sent Events as served by the `status` extension's tail: yields `{ type, data }` for every
 * message of a `text/event-stream` body (HTML Living Standard, "Server-sent events": blocks
 * separated by a blank line, `event:` names the type, default `message`, `data:` lines joined).
 * Messages without data are skipped; `data` is parsed as JSON.
 */
export async function* sseMessages(body: AsyncIterable<Uint8Array>): AsyncGenerator<{ type: string; data: unknown }> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let type = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) yield { type, data: JSON.parse(data) as unknown };
    }
  }
}
