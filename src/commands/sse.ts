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
    const { messages, rest } = takeSseMessages(buf + decoder.decode(chunk, { stream: true }));
    buf = rest;
    yield* messages;
  }
}

/**
 * The complete messages at the start of `text` (what a stream delivered so far), parsed as
 * {@link sseMessages} says, and the incomplete rest to prepend to what comes next. Shared with the
 * status page, which reads the stream itself.
 */
export function takeSseMessages(text: string): { messages: { type: string; data: unknown }[]; rest: string } {
  const messages: { type: string; data: unknown }[] = [];
  let end;
  while ((end = text.indexOf('\n\n')) >= 0) {
    const block = text.slice(0, end);
    text = text.slice(end + 2);
    let type = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data) messages.push({ type, data: JSON.parse(data) as unknown });
  }
  return { messages, rest: text };
}
